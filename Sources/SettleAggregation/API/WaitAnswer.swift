public import Foundation

/// What a wait is for: the endpoint `drained` on every counted node (a preStop hook's question) or
/// `programmed` on every counted node (is a new pod reachable everywhere yet). Brief §3.
public enum WaitTarget: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case drained, programmed
    public var description: String { rawValue }
}

/// The answer to `GET /v1/endpoints/{ip}` and `GET /v1/pods/{namespace}/{name}` (docs/api.md).
///
/// `done` is the whole answer; the rest says why not, node by node: every node that is not done
/// is named in `pending`, `unknown` or `excluded`, never dropped (brief §2, Nodes).
public struct WaitAnswer: Hashable, Sendable, Codable {
    /// What was asked: an IP, or a pod and the IPs its slices gave it.
    public var query: WaitQuery
    public var `for`: WaitTarget
    /// The endpoint reached `for` on every counted node (and unknown nodes do not block, or there are none).
    public var done: Bool
    /// The request asked to wait and its deadline passed before `done`.
    public var timedOut: Bool
    /// One line for people: `drained on 5 of 5 nodes`, `waiting for 2 of 5 nodes: node-b stale, …`.
    public var summary: String
    /// The aggregator's own view of the endpoint, from EndpointSlices.
    public var endpoint: EndpointView
    public var nodes: NodeCounts
    /// Nodes that count and are not done yet, each with its state and reason.
    public var pending: [NodeVerdict]
    /// Nodes whose agent is unreachable, silent or not ready: whether they block is `policy.unknownNodes`.
    public var unknown: [NodeVerdict]
    /// Nodes left out by policy (being deleted, NotReady past the grace period, no agent).
    public var excluded: [NodeVerdict]
    public var policy: WaitPolicy
    /// Seconds from the request's arrival to this answer.
    public var elapsedSeconds: Double
    /// Seconds since the aggregator saw the change being waited on, when it has seen one.
    public var sinceChangeSeconds: Double?

    public init(
        query: WaitQuery, for target: WaitTarget, done: Bool, timedOut: Bool, summary: String, endpoint: EndpointView,
        nodes: NodeCounts, pending: [NodeVerdict], unknown: [NodeVerdict], excluded: [NodeVerdict], policy: WaitPolicy,
        elapsedSeconds: Double, sinceChangeSeconds: Double?
    ) {
        self.query = query
        self.for = target
        self.done = done
        self.timedOut = timedOut
        self.summary = summary
        self.endpoint = endpoint
        self.nodes = nodes
        self.pending = pending
        self.unknown = unknown
        self.excluded = excluded
        self.policy = policy
        self.elapsedSeconds = elapsedSeconds
        self.sinceChangeSeconds = sinceChangeSeconds
    }
}

/// The subject of a wait.
public struct WaitQuery: Hashable, Sendable, Codable {
    /// The endpoint IP asked about (`/v1/endpoints/{ip}`), or `nil` for a pod query.
    public var ip: String?
    /// `namespace/name` of the pod asked about (`/v1/pods/{namespace}/{name}`), or `nil`.
    public var pod: String?

    public init(ip: String? = nil, pod: String? = nil) {
        self.ip = ip
        self.pod = pod
    }
}

/// How the aggregator itself sees the endpoint, from its EndpointSlice watch.
public struct EndpointView: Hashable, Sendable, Codable {
    /// The IPs the answer covers (one for an IP query; the pod's IPs for a pod query).
    public var ips: [String]
    /// The Services (`namespace/name`) whose slices list or listed these IPs.
    public var services: [String]
    /// `ready` (some slice lists it ready), `terminating` (listed, terminating), `notReady`
    /// (listed, not ready, not terminating), `removed` (no slice lists it any more).
    public var state: String
    /// The change the wait is measured against: the newest slice change of these IPs.
    public var change: EndpointChange?

    public init(ips: [String], services: [String], state: String, change: EndpointChange?) {
        self.ips = ips
        self.services = services
        self.state = state
        self.change = change
    }
}

/// One EndpointSlice change as the aggregator saw it: the freshness reference (brief §2).
public struct EndpointChange: Hashable, Sendable, Codable {
    /// The slice's name and UID.
    public var slice: String
    public var uid: String
    /// The slice's `metadata.generation` at the change: a node's ack counts only when it was
    /// computed from this generation or a later one.
    public var generation: Int64?
    /// The change's resourceVersion: a node whose watch passed it has seen the change.
    public var resourceVersion: String?
    /// When the aggregator saw it.
    public var observedAt: Date

    public init(slice: String, uid: String, generation: Int64?, resourceVersion: String?, observedAt: Date) {
        self.slice = slice
        self.uid = uid
        self.generation = generation
        self.resourceVersion = resourceVersion
        self.observedAt = observedAt
    }
}

/// How many nodes are in each group of an answer.
public struct NodeCounts: Hashable, Sendable, Codable {
    /// Every node the aggregator knows (agents and Node objects).
    public var total: Int
    /// Nodes whose answer counts: `done + pending` (+ `unknown` when unknown nodes block).
    public var counted: Int
    public var done: Int
    public var pending: Int
    public var unknown: Int
    public var excluded: Int

    public init(total: Int, counted: Int, done: Int, pending: Int, unknown: Int, excluded: Int) {
        self.total = total
        self.counted = counted
        self.done = done
        self.pending = pending
        self.unknown = unknown
        self.excluded = excluded
    }
}

/// One node's part of an answer.
public struct NodeVerdict: Hashable, Sendable, Codable {
    public var node: String
    /// The endpoint's state on the node when the node's ack says it (`stale`, `missing`,
    /// `programmed`, `drained`); `nil` when the node has not said.
    public var state: String?
    /// `true` when the node keeps the endpoint as kube-proxy's terminating fallback (the last
    /// serving endpoint): it will not drain while that lasts.
    public var fallback: Bool
    /// Machine-readable: see ``NodeVerdict/Reason``.
    public var reason: Reason
    /// One sentence for people.
    public var detail: String

    public init(node: String, state: String? = nil, fallback: Bool = false, reason: Reason, detail: String) {
        self.node = node
        self.state = state
        self.fallback = fallback
        self.reason = reason
        self.detail = detail
    }

    public enum Reason: String, Hashable, Sendable, Codable, CaseIterable {
        // pending
        /// The node's ack says `stale`: kube-proxy there still routes new connections to it.
        case stale
        /// The node's ack says `missing`: kube-proxy there does not route it yet.
        case missing
        /// The node keeps it as the terminating fallback (see `fallback`).
        case fallback
        /// The node has the opposite converged state (e.g. `programmed` while waiting for `drained`).
        case converged
        /// The node's view is older than the change: its ack names an older slice generation, or
        /// its watch has not reached the change's resourceVersion.
        case behind
        /// The aggregator itself still sees the endpoint in the state that does not fit the wait
        /// (ready while waiting for `drained`, not ready while waiting for `programmed`).
        case endpoint
        // unknown
        /// No stream to the node's agent (connecting, refused, broken).
        case disconnected
        /// The stream is open but silent past the silence timeout.
        case silent
        /// The agent says it is not ready (dataplane not read or watch not synced).
        case agentNotReady
        // excluded
        /// The Node object is being deleted.
        case nodeDeleting
        /// The Node has been NotReady longer than the grace period.
        case nodeNotReady
        /// A Node object with no agent (none scheduled there).
        case noAgent
    }
}

/// The policy the answer applied.
public struct WaitPolicy: Hashable, Sendable, Codable {
    /// `block` (unknown nodes keep a wait from being done) or `ignore` (named, not waited for).
    public var unknownNodes: UnknownNodePolicy

    public init(unknownNodes: UnknownNodePolicy) {
        self.unknownNodes = unknownNodes
    }
}

/// Whether nodes whose agent cannot be heard keep a wait from being done.
public enum UnknownNodePolicy: String, Hashable, Sendable, Codable, CaseIterable {
    case block, ignore
}

/// Every error answer: `{"error":"<one sentence>","status":<code>}`, as the agent's.
public struct APIError: Hashable, Sendable, Codable, Error {
    public var error: String
    public var status: Int

    public init(error: String, status: Int) {
        self.error = error
        self.status = status
    }
}
