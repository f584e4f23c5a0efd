public import Foundation

/// The answer to `GET /v1/nodes`: every node the aggregator knows, with its agent's health.
public struct NodesAnswer: Hashable, Sendable, Codable {
    public var nodes: [NodeHealth]
    public var counts: Counts
    public var policy: WaitPolicy
    /// The newest EndpointSlice resourceVersion the aggregator has seen.
    public var watch: String?

    public struct Counts: Hashable, Sendable, Codable {
        public var total: Int
        /// Agent connected, ready, heard from within the silence timeout.
        public var healthy: Int
        public var unknown: Int
        public var excluded: Int

        public init(total: Int, healthy: Int, unknown: Int, excluded: Int) {
            self.total = total
            self.healthy = healthy
            self.unknown = unknown
            self.excluded = excluded
        }
    }

    public init(nodes: [NodeHealth], counts: Counts, policy: WaitPolicy, watch: String?) {
        self.nodes = nodes
        self.counts = counts
        self.policy = policy
        self.watch = watch
    }
}

/// One node in `/v1/nodes`.
public struct NodeHealth: Hashable, Sendable, Codable {
    public var node: String
    /// `healthy`, `unknown` or `excluded`.
    public var status: String
    /// Why the node is unknown or excluded.
    public var reason: NodeVerdict.Reason?
    public var detail: String?
    /// The agent's stream URL, when the node has an agent.
    public var agent: String?
    public var connected: Bool
    public var ready: Bool
    /// The node's dataplane mode as its agent reported it.
    public var mode: String?
    public var epoch: String?
    public var seq: UInt64?
    /// The agent's EndpointSlice watch resourceVersion.
    public var watch: String?
    /// When a message last arrived from the agent, and how long ago.
    public var lastMessage: Date?
    public var silentSeconds: Double?
    /// Endpoints the node acknowledges as in transition, how many of them are not converged
    /// (`stale` or `missing`), and how many diverge without a change the agent saw.
    public var inTransition: Int
    public var notConverged: Int
    public var divergent: Int
    /// Age of the oldest endpoint that is not converged on the node: how far it lags.
    public var lagSeconds: Double?
    /// The Node object's Ready condition (`nil` when there is no Node object) and deletion.
    public var nodeReady: Bool?
    public var nodeDeleting: Bool
    /// How often the stream to this agent was (re)established and how many malformed messages it sent.
    public var connects: Int
    public var malformed: Int

    public init(
        node: String, status: String, reason: NodeVerdict.Reason? = nil, detail: String? = nil, agent: String? = nil,
        connected: Bool = false, ready: Bool = false, mode: String? = nil, epoch: String? = nil, seq: UInt64? = nil,
        watch: String? = nil, lastMessage: Date? = nil, silentSeconds: Double? = nil, inTransition: Int = 0,
        notConverged: Int = 0, divergent: Int = 0, lagSeconds: Double? = nil, nodeReady: Bool? = nil,
        nodeDeleting: Bool = false, connects: Int = 0, malformed: Int = 0
    ) {
        self.node = node
        self.status = status
        self.reason = reason
        self.detail = detail
        self.agent = agent
        self.connected = connected
        self.ready = ready
        self.mode = mode
        self.epoch = epoch
        self.seq = seq
        self.watch = watch
        self.lastMessage = lastMessage
        self.silentSeconds = silentSeconds
        self.inTransition = inTransition
        self.notConverged = notConverged
        self.divergent = divergent
        self.lagSeconds = lagSeconds
        self.nodeReady = nodeReady
        self.nodeDeleting = nodeDeleting
        self.connects = connects
        self.malformed = malformed
    }
}

/// The answer to `GET /v1/services/{namespace}/{name}`: the service's convergence node by node.
public struct ServiceAnswer: Hashable, Sendable, Codable {
    public var service: String
    /// No counted node has a `stale` or `missing` endpoint of the service.
    public var converged: Bool
    public var summary: String
    public var nodes: [ServiceNode]
    public var counts: NodeCounts
    public var policy: WaitPolicy

    public init(service: String, converged: Bool, summary: String, nodes: [ServiceNode], counts: NodeCounts, policy: WaitPolicy) {
        self.service = service
        self.converged = converged
        self.summary = summary
        self.nodes = nodes
        self.counts = counts
        self.policy = policy
    }
}

/// One node's convergence of one service.
public struct ServiceNode: Hashable, Sendable, Codable {
    public var node: String
    /// `converged`, `pending`, `unknown` or `excluded`.
    public var status: String
    public var reason: NodeVerdict.Reason?
    /// The node's in-transition endpoints of the service by state.
    public var states: [String: Int]
    /// Its endpoints that are not converged: `ip:port/protocol state (reason)`, and how long the oldest has lagged.
    public var notConverged: [String]
    public var lagSeconds: Double?

    public init(
        node: String, status: String, reason: NodeVerdict.Reason? = nil, states: [String: Int] = [:],
        notConverged: [String] = [], lagSeconds: Double? = nil
    ) {
        self.node = node
        self.status = status
        self.reason = reason
        self.states = states
        self.notConverged = notConverged
        self.lagSeconds = lagSeconds
    }
}
