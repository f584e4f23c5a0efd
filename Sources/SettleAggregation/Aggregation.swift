public import Foundation
public import SettleAcks
import SettleConvergence
import SettleSelection
public import SettleKube
public import SettleModel

/// The aggregator's whole state, pure: the endpoint index from EndpointSlices, every node's acks,
/// and the open waits, re-evaluated incrementally — a message from one node re-checks only that
/// node, and only for the waits it can concern (brief §3: a wait returns within milliseconds of
/// the last needed ack, at 5,000 nodes).
///
/// Every mutation returns the ids of waits that became done, for the caller to answer.
public struct Aggregation: Sendable {
    public var index = EndpointIndex()
    public private(set) var nodes: [String: NodeState] = [:]
    public var policy: UnknownNodePolicy
    /// Nodes silent this long are `unknown`.
    public var silenceTimeout: TimeInterval
    /// Nodes NotReady this long are excluded.
    public var notReadyGrace: TimeInterval

    /// One open wait.
    public struct Wait: Sendable {
        public let id: Int
        public let query: WaitQuery
        public let ips: [IPAddress]
        public let target: WaitTarget
        public let started: Date
        /// Every node that is not done, with why.
        public private(set) var verdicts: [String: NodeVerdict] = [:]
        /// How many of `verdicts` are in each group, kept as they change (a message re-checks one
        /// node; recounting every verdict would make each message cost O(nodes)).
        private var groups = GroupCounts()

        fileprivate init(id: Int, query: WaitQuery, ips: [IPAddress], target: WaitTarget, started: Date) {
            self.id = id
            self.query = query
            self.ips = ips
            self.target = target
            self.started = started
        }

        /// Sets one node's verdict (`nil`: done) in place.
        fileprivate mutating func set(_ verdict: NodeVerdict?, for node: String) {
            if let old = verdicts[node] { groups.add(old.reason.group, -1) }
            if let verdict { groups.add(verdict.reason.group, 1) }
            verdicts[node] = verdict
        }

        func isDone(nodeCount: Int, policy: UnknownNodePolicy) -> Bool {
            groups.isDone(nodeCount: nodeCount, policy: policy)
        }
    }

    /// How many nodes are not done, by group, and the one rule of brief §2 on them: done when no
    /// counted node is pending, unknown nodes block under `block`, and at least one node counts.
    struct GroupCounts {
        var pending = 0
        var unknown = 0
        var excluded = 0

        init() {}

        init(_ verdicts: some Sequence<NodeVerdict>) {
            for verdict in verdicts { add(verdict.reason.group, 1) }
        }

        mutating func add(_ group: NodeVerdict.Reason.Group, _ delta: Int) {
            switch group {
            case .pending: pending += delta
            case .unknown: unknown += delta
            case .excluded: excluded += delta
            }
        }

        /// The nodes that count: done and pending ones, and unknown ones under `block`.
        func counted(nodeCount: Int, policy: UnknownNodePolicy) -> Int {
            nodeCount - excluded - (policy == .ignore ? unknown : 0)
        }

        func isDone(nodeCount: Int, policy: UnknownNodePolicy) -> Bool {
            pending == 0 && (policy == .ignore || unknown == 0) && counted(nodeCount: nodeCount, policy: policy) > 0
        }
    }

    public private(set) var waits: [Int: Wait] = [:]
    private var nextWait = 0
    private var waitsByIP: [IPAddress: Set<Int>] = [:]
    /// Waits for which each node is `behind`: the ones its watch moving can complete.
    private var behindByNode: [String: Set<Int>] = [:]

    public init(policy: UnknownNodePolicy = .block, silenceTimeout: TimeInterval = 15, notReadyGrace: TimeInterval = 300) {
        self.policy = policy
        self.silenceTimeout = silenceTimeout
        self.notReadyGrace = notReadyGrace
    }

    // MARK: - Nodes and agents

    /// Sets (or clears) a node's agent URL; a new URL starts its stream afresh. `expected`: an
    /// agent pod exists there even without a URL (not running yet). A node that had an agent
    /// and has none now is `unknown`, never excluded: its agent is being replaced. Returns completed waits.
    public mutating func setAgent(_ url: String?, node name: String, expected: Bool = false) -> [Int] {
        var node = nodes[name] ?? NodeState(name: name)
        let wasExpected = node.agentExpected
        node.agentExpected = node.agentExpected || expected || url != nil
        guard node.agent != url || nodes[name] == nil || wasExpected != node.agentExpected else { return [] }
        if node.agent != url {
            node.resetStream()
            if url == nil { node.failure = "no running agent pod on the node" }
        }
        node.agent = url
        return store(node, statusChanged: true)
    }

    /// Removes a node entirely when it has neither agent nor Node object any more. A node that
    /// had an agent stays (as `unknown`) until its Node object is deleted, so it is never silently
    /// dropped while its agent is replaced.
    public mutating func removeIfEmpty(node name: String, nodeDeleted: Bool = false) -> [Int] {
        guard let node = nodes[name], node.agent == nil, !node.hasNodeObject, nodeDeleted || !node.agentExpected else { return [] }
        nodes[name] = nil
        behindByNode[name] = nil
        for id in Array(waits.keys) where waits[id]?.verdicts[name] != nil { waits[id]?.set(nil, for: name) }
        return completedWaits()
    }

    /// Applies a Node object (or its deletion, `nil`).
    public mutating func setNodeObject(_ object: V1Node?, name: String, now: Date) -> [Int] {
        var node = nodes[name] ?? NodeState(name: name)
        if let object {
            node.hasNodeObject = true
            let ready = object.isReady
            if ready == false, node.nodeReady != false {
                node.nodeNotReadySince = Self.transitionTime(object) ?? now
            } else if ready != false {
                node.nodeNotReadySince = nil
            }
            node.nodeReady = ready
            node.nodeDeleting = object.metadata.deletionTimestamp != nil
        } else {
            node.hasNodeObject = false
            node.nodeReady = nil
            node.nodeNotReadySince = nil
            node.nodeDeleting = true
        }
        node.notReadyTooLong = node.nodeNotReadySince.map { now.timeIntervalSince($0) >= notReadyGrace } ?? false
        return store(node, statusChanged: true)
    }

    /// Applies one message of `node`'s stream. Returns completed waits.
    public mutating func apply(_ message: AckMessage, from name: String, at now: Date) -> [Int] {
        // In place: a copy of the node would copy all its acks on the first write.
        guard let applied = nodes[name]?.apply(message, at: now) else { return [] }
        if applied.statusChanged || applied.watchRegressed { return reevaluate(node: name, waits: Set(waits.keys)) }
        var concerned: Set<Int> = []
        for ip in applied.ips { concerned.formUnion(waitsByIP[ip] ?? []) }
        if applied.watchMoved, let behind = behindByNode[name] { concerned.formUnion(behind) }
        guard !concerned.isEmpty else { return [] }
        return reevaluate(node: name, waits: concerned)
    }

    /// The node's stream went down.
    public mutating func disconnected(node name: String, reason: String) -> [Int] {
        guard let changed = nodes[name]?.disconnect(reason: reason) else { return [] }
        return changed ? reevaluate(node: name, waits: Set(waits.keys)) : []
    }

    /// Bytes arrived from the node's agent at `time` (noted by its reader, ahead of the messages
    /// being applied): silence is judged by arrival, so a busy aggregator does not take its own
    /// backlog for silent agents.
    public mutating func noteArrival(node name: String, at time: Date) {
        guard let held = nodes[name], held.connected, (held.lastMessage ?? .distantPast) < time else { return }
        nodes[name]?.lastMessage = time
    }

    /// Counts a malformed message from the node's agent.
    public mutating func recordMalformed(node name: String) {
        nodes[name]?.malformed += 1
    }

    /// Counts a (re)connection.
    public mutating func recordConnect(node name: String) {
        nodes[name]?.connects += 1
    }

    /// Applies time: silence and the NotReady grace period. Returns completed waits.
    public mutating func tick(now: Date) -> [Int] {
        var changed: [String] = []
        for (name, var node) in nodes {
            let silent = node.connected && (node.lastMessage.map { now.timeIntervalSince($0) > silenceTimeout } ?? false)
            let tooLong = node.nodeNotReadySince.map { now.timeIntervalSince($0) >= notReadyGrace } ?? false
            guard silent != node.silent || tooLong != node.notReadyTooLong else { continue }
            node.silent = silent
            node.notReadyTooLong = tooLong
            nodes[name] = node
            changed.append(name)
        }
        var completed: [Int] = []
        for name in changed { completed += reevaluate(node: name, waits: Set(waits.keys)) }
        return completed
    }

    // MARK: - EndpointSlices

    public mutating func sliceUpserted(_ slice: V1EndpointSlice, now: Date) -> [Int] {
        reevaluate(ips: index.upsert(slice, now: now))
    }

    public mutating func sliceDeleted(_ slice: V1EndpointSlice, now: Date) -> [Int] {
        reevaluate(ips: index.delete(slice, now: now))
    }

    public mutating func slicesReplaced(_ slices: [V1EndpointSlice], resourceVersion: String?, now: Date) -> [Int] {
        reevaluate(ips: index.replace(with: slices, resourceVersion: resourceVersion, now: now))
    }

    // MARK: - Waits

    /// Opens a wait; returns its id. It may be done at once (see ``isDone(_:)``).
    public mutating func openWait(query: WaitQuery, ips: [IPAddress], target: WaitTarget, now: Date) -> Int {
        nextWait += 1
        let id = nextWait
        var wait = Wait(id: id, query: query, ips: ips, target: target, started: now)
        let listings = ips.map { index.listings(of: $0) }
        let misfit = Self.misfit(listings.joined(), target: target)
        // Through indices, so each node is read in place rather than copied.
        for index in nodes.indices {
            let name = nodes[index].key
            if let verdict = Self.verdict(node: nodes[index].value, ips: ips, listings: listings, target: target, misfit: misfit) {
                wait.set(verdict, for: name)
                if verdict.reason == .behind { behindByNode[name, default: []].insert(id) }
            }
        }
        waits[id] = wait
        for ip in ips { waitsByIP[ip, default: []].insert(id) }
        return id
    }

    /// Closes a wait (answered, timed out or cancelled).
    public mutating func closeWait(_ id: Int) {
        guard let wait = waits.removeValue(forKey: id) else { return }
        for ip in wait.ips {
            waitsByIP[ip]?.remove(id)
            if waitsByIP[ip]?.isEmpty == true { waitsByIP[ip] = nil }
        }
        for name in wait.verdicts.keys {
            guard behindByNode[name] != nil else { continue }
            behindByNode[name]?.remove(id)
            if behindByNode[name]?.isEmpty == true { behindByNode[name] = nil }
        }
    }

    public func isDone(_ id: Int) -> Bool {
        return waits[id]?.isDone(nodeCount: nodes.count, policy: policy) ?? false
    }

    /// The answer of an open wait now.
    public func answer(_ id: Int, now: Date, timedOut: Bool = false) -> WaitAnswer? {
        guard let wait = waits[id] else { return nil }
        return answer(
            query: wait.query, ips: wait.ips, target: wait.target, verdicts: wait.verdicts, started: wait.started, now: now,
            timedOut: timedOut)
    }

    /// A one-shot answer, without opening a wait.
    public func evaluate(query: WaitQuery, ips: [IPAddress], target: WaitTarget, started: Date, now: Date) -> WaitAnswer {
        let listings = ips.map { index.listings(of: $0) }
        let misfit = Self.misfit(listings.joined(), target: target)
        var verdicts: [String: NodeVerdict] = [:]
        for index in nodes.indices {
            if let verdict = Self.verdict(node: nodes[index].value, ips: ips, listings: listings, target: target, misfit: misfit) {
                verdicts[nodes[index].key] = verdict
            }
        }
        return answer(query: query, ips: ips, target: target, verdicts: verdicts, started: started, now: now, timedOut: false)
    }

    // MARK: - Evaluation

    /// One node's verdict for a wait; `nil` when the node is done.
    ///
    /// A node is done when every ack it holds for the IPs is fresh and in the wanted state, and
    /// every slice listing of the IPs it has no fresh ack for is behind its watch (it saw the
    /// change and had nothing to say: the endpoint is converged there). An ack is fresh when it
    /// was computed from the listing's slice at the change's generation or later, or the node's
    /// watch has passed the change's resourceVersion.
    public static func verdict(
        node: NodeState, ips: [IPAddress], listings: [[EndpointIndex.Listing]], target: WaitTarget
    ) -> NodeVerdict? {
        verdict(node: node, ips: ips, listings: listings, target: target, misfit: misfit(listings.joined(), target: target))
    }

    /// The same with the endpoint's misfit worked out once for all nodes.
    static func verdict(
        node: NodeState, ips: [IPAddress], listings: [[EndpointIndex.Listing]], target: WaitTarget, misfit: String?
    ) -> NodeVerdict? {
        if let reason = node.exclusion {
            return NodeVerdict(node: node.name, reason: reason, detail: Self.describe(reason, node: node))
        }
        if let misfit {
            return NodeVerdict(node: node.name, reason: .endpoint, detail: misfit)
        }
        // (IP index, listing index) pairs a fresh ack covers; most nodes have none.
        var covered: Set<Int> = []
        var worst: NodeVerdict?
        for (ipIndex, (ip, ipListings)) in zip(ips, listings).enumerated() {
            for ack in node.acks(for: ip) {
                let listingIndex = ipListings.firstIndex { $0.uid == ack.slice?.uid }
                let listing = listingIndex.map { ipListings[$0] }
                let byGeneration: Bool = {
                    guard let listing, let generation = ack.slice?.generation else { return false }
                    guard let changed = listing.changedGeneration else { return true }
                    return generation >= changed
                }()
                let reference = listing?.changedVersion ?? ipListings.compactMap(\.changedVersion).max { (UInt64($0) ?? 0) < (UInt64($1) ?? 0) }
                let byWatch = Self.watch(of: node, isAtLeast: reference) ?? false
                let fresh = byGeneration || byWatch || (ack.slice == nil && listing == nil && reference == nil)
                if !fresh {
                    let generation = ack.slice?.generation.map(String.init) ?? "?"
                    let wanted = listing?.changedGeneration.map(String.init) ?? "?"
                    worst = worst ?? NodeVerdict(
                        node: node.name, state: ack.state.rawValue, fallback: ack.fallback, reason: .behind,
                        detail: "its ack for \(ack.key) is from generation \(generation) of slice \(ack.slice?.name ?? "?"); the change is at generation \(wanted)")
                    continue
                }
                if let listingIndex { covered.insert(ipIndex << 20 | listingIndex) }
                if let verdict = Self.stateVerdict(ack, node: node.name, target: target) {
                    if worst == nil || worst?.reason == .behind { worst = verdict }
                }
            }
        }
        if let worst { return worst }
        for (ipIndex, ipListings) in listings.enumerated() {
            for (listingIndex, listing) in ipListings.enumerated() where covered.isEmpty || !covered.contains(ipIndex << 20 | listingIndex) {
                if Self.watch(of: node, isAtLeast: listing.changedVersion) != true {
                    return NodeVerdict(
                        node: node.name, reason: .behind,
                        detail: "its EndpointSlice watch is at \(node.watch ?? "none"), the change of slice \(listing.slice) at \(listing.changedVersion ?? "an unknown version")")
                }
            }
        }
        return nil
    }

    /// Whether the node's watch has reached `version` (`nil` when either is not a number).
    static func watch(of node: NodeState, isAtLeast version: String?) -> Bool? {
        guard let watch = node.watchNumber, let version = version.flatMap({ UInt64($0) }) else { return nil }
        return watch >= version
    }

    /// Why the aggregator's own view of the endpoint does not fit the wait, or `nil`.
    static func misfit(_ listings: some Sequence<EndpointIndex.Listing>, target: WaitTarget) -> String? {
        let live = listings.filter { $0.condition != .removed }
        switch target {
        case .drained:
            if let ready = live.first(where: { $0.condition == .ready }) {
                return "slice \(ready.slice) still lists \(ready.ip) as ready (not terminating)"
            }
        case .programmed:
            if live.isEmpty { return "no EndpointSlice lists it any more" }
            if let other = live.first(where: { $0.condition != .ready }) {
                return "slice \(other.slice) lists \(other.ip) as \(other.condition.rawValue)"
            }
        }
        return nil
    }

    static func stateVerdict(_ ack: Ack, node: String, target: WaitTarget) -> NodeVerdict? {
        switch (target, ack.state) {
        case (.drained, .drained), (.programmed, .programmed): return nil
        default: break
        }
        // Only a node that is not done gets words.
        let state = ack.state.rawValue
        let name = "\(ack.key)"
        switch (target, ack.state) {
        case (_, .stale):
            return NodeVerdict(node: node, state: state, reason: .stale, detail: "\(name) still receives new connections there (\(ack.reason.rawValue))")
        case (_, .missing):
            return NodeVerdict(node: node, state: state, reason: .missing, detail: "\(name) is not routed there yet (\(ack.reason.rawValue))")
        case (.drained, .programmed) where ack.fallback:
            return NodeVerdict(
                node: node, state: state, fallback: true, reason: .fallback,
                detail: "\(name) is kept as the last serving endpoint (kube-proxy's terminating fallback)")
        default:
            return NodeVerdict(node: node, state: state, fallback: ack.fallback, reason: .converged, detail: "\(name) is \(state) there")
        }
    }

    /// One sentence on why a node is unknown or excluded.
    public static func describe(_ reason: NodeVerdict.Reason, node: NodeState) -> String {
        switch reason {
        case .disconnected: "no stream from its agent" + (node.failure.map { ": \($0)" } ?? "")
        case .silent: "its agent has been silent since \(node.lastMessage.map(AckWire.formatTime) ?? "never")"
        case .agentNotReady: "its agent is not ready (dataplane not read or watch not synced)"
        case .nodeDeleting: "the Node is being deleted"
        case .nodeNotReady: "the Node has been NotReady since \(node.nodeNotReadySince.map(AckWire.formatTime) ?? "?")"
        case .noAgent: "no agent runs on this Node"
        default: reason.rawValue
        }
    }

    private func answer(
        query: WaitQuery, ips: [IPAddress], target: WaitTarget, verdicts: [String: NodeVerdict], started: Date, now: Date,
        timedOut: Bool
    ) -> WaitAnswer {
        var pending: [NodeVerdict] = []
        var unknown: [NodeVerdict] = []
        var excluded: [NodeVerdict] = []
        for verdict in verdicts.values.sorted(by: { $0.node < $1.node }) {
            switch verdict.reason.group {
            case .pending: pending.append(verdict)
            case .unknown: unknown.append(verdict)
            case .excluded: excluded.append(verdict)
            }
        }
        let total = nodes.count
        let doneCount = total - verdicts.count
        let groups = GroupCounts(verdicts.values)
        let counted = groups.counted(nodeCount: total, policy: policy)
        let done = groups.isDone(nodeCount: total, policy: policy)
        let listings = ips.flatMap { index.listings(of: $0) }
        let live = listings.filter { $0.condition != .removed }
        let state: String =
            if live.isEmpty { "removed" }
            else if live.contains(where: { $0.condition == .ready }) { "ready" }
            else if live.contains(where: { $0.condition == .terminating }) { "terminating" }
            else { "notReady" }
        let change = listings.max { $0.changedAt < $1.changedAt }?.change
        let view = EndpointView(
            ips: ips.map(\.description), services: Array(Set(listings.map(\.service))).sorted(), state: state, change: change)
        var summary: String
        if done {
            summary = "\(target) on \(counted) of \(counted) counted nodes"
        } else if counted == 0 && pending.isEmpty {
            summary = "no node counts"
        } else {
            let named = pending.prefix(5).map { "\($0.node) \($0.reason.rawValue)" }.joined(separator: ", ")
            summary = "waiting for \(pending.count) of \(counted) nodes" + (named.isEmpty ? "" : ": \(named)")
            if pending.count > 5 { summary += ", …" }
        }
        if !unknown.isEmpty {
            let named = unknown.prefix(5).map { "\($0.node) \($0.reason.rawValue)" }.joined(separator: ", ")
            summary += "; \(unknown.count) unknown (\(policy == .block ? "blocking" : "ignored")): \(named)" + (unknown.count > 5 ? ", …" : "")
        }
        if !excluded.isEmpty { summary += "; \(excluded.count) excluded" }
        return WaitAnswer(
            query: query, for: target, done: done, timedOut: timedOut && !done, summary: summary, endpoint: view,
            nodes: NodeCounts(
                total: total, counted: counted, done: doneCount, pending: pending.count, unknown: unknown.count,
                excluded: excluded.count),
            pending: pending, unknown: unknown, excluded: excluded, policy: WaitPolicy(unknownNodes: policy),
            elapsedSeconds: max(0, now.timeIntervalSince(started)),
            sinceChangeSeconds: change.map { max(0, now.timeIntervalSince($0.observedAt)) })
    }

    // MARK: - Incremental re-evaluation

    private mutating func store(_ node: NodeState, statusChanged: Bool) -> [Int] {
        nodes[node.name] = node
        return reevaluate(node: node.name, waits: Set(waits.keys))
    }

    /// Re-checks one node for some waits; returns the waits that became done.
    private mutating func reevaluate(node name: String, waits ids: Set<Int>) -> [Int] {
        guard let node = nodes[name] else { return [] }
        var completed: [Int] = []
        let nodeCount = nodes.count
        for id in ids {
            // No copy of the wait is held while it is changed below (that would copy its verdicts).
            guard let (ips, target, held, wasDone) = waits[id].map({ ($0.ips, $0.target, $0.verdicts[name], $0.isDone(nodeCount: nodeCount, policy: policy)) })
            else { continue }
            let listings = ips.map { index.listings(of: $0) }
            let verdict = Self.verdict(node: node, ips: ips, listings: listings, target: target)
            guard verdict != held else { continue }
            // In place: copying the wait would copy its verdicts, one per node.
            waits[id]?.set(verdict, for: name)
            if verdict?.reason == .behind {
                behindByNode[name, default: []].insert(id)
            } else if held?.reason == .behind {
                behindByNode[name]?.remove(id)
                if behindByNode[name]?.isEmpty == true { behindByNode[name] = nil }
            }
            if !wasDone, waits[id]?.isDone(nodeCount: nodeCount, policy: policy) == true { completed.append(id) }
        }
        return completed
    }

    /// Re-checks every node for the waits on these IPs (the aggregator's view of them changed).
    private mutating func reevaluate(ips: Set<IPAddress>) -> [Int] {
        var ids: Set<Int> = []
        for ip in ips { ids.formUnion(waitsByIP[ip] ?? []) }
        var completed: Set<Int> = []
        for name in nodes.keys { completed.formUnion(reevaluate(node: name, waits: ids)) }
        return completed.sorted()
    }

    /// Waits done now (after a node left).
    private func completedWaits() -> [Int] {
        waits.keys.filter { isDone($0) }.sorted()
    }

    /// The convergence of one Service (`namespace/name`) node by node: a node is pending when it
    /// holds a `stale` or `missing` ack of the service.
    /// `nil` when the aggregator never saw a slice of the service and no node acks any of its
    /// endpoints. A node whose watch has not reached the service's newest endpoint change is
    /// pending (`behind`): it cannot have converged on what it has not seen.
    public func serviceAnswer(_ service: String, now: Date) -> ServiceAnswer? {
        let newest = index.newestChange(of: service)
        guard newest != nil || nodes.values.contains(where: { $0.acks.keys.contains { $0.service == service } }) else { return nil }
        let reference = newest ?? nil
        var rows: [ServiceNode] = []
        var groups = GroupCounts()
        for node in nodes.values.sorted(by: { $0.name < $1.name }) {
            var states: [String: Int] = [:]
            var notConverged: [String] = []
            var oldest: Date?
            for ack in node.acks.values where ack.service == service {
                states[ack.state.rawValue, default: 0] += 1
                if ack.state == .stale || ack.state == .missing {
                    notConverged.append("\(ack.key) \(ack.state.rawValue) (\(ack.reason.rawValue))")
                    oldest = min(oldest ?? ack.since, ack.since)
                }
            }
            let status: String
            let reason = node.exclusion
            var rowReason = reason
            switch reason?.group {
            case .unknown:
                status = "unknown"
                groups.add(.unknown, 1)
            case .excluded:
                status = "excluded"
                groups.add(.excluded, 1)
            default:
                let behind = reference != nil && Self.watch(of: node, isAtLeast: reference) != true
                status = notConverged.isEmpty && !behind ? "converged" : "pending"
                if status == "pending" { groups.add(.pending, 1) }
                if behind && notConverged.isEmpty { rowReason = .behind }
            }
            rows.append(
                ServiceNode(
                    node: node.name, status: status, reason: rowReason, states: states, notConverged: notConverged.sorted(),
                    lagSeconds: oldest.map { max(0, now.timeIntervalSince($0)) }))
        }
        let total = rows.count
        let (pending, unknown, excluded) = (groups.pending, groups.unknown, groups.excluded)
        let done = total - pending - unknown - excluded
        let counted = groups.counted(nodeCount: total, policy: policy)
        let converged = groups.isDone(nodeCount: total, policy: policy)
        var summary =
            converged
            ? "converged on \(counted) of \(counted) counted nodes"
            : counted == 0 ? "no node counts" : "not converged on \(pending) of \(counted) nodes"
        if unknown > 0 { summary += "; \(unknown) unknown" }
        if excluded > 0 { summary += "; \(excluded) excluded" }
        return ServiceAnswer(
            service: service, converged: converged, summary: summary, nodes: rows,
            counts: NodeCounts(total: total, counted: counted, done: done, pending: pending, unknown: unknown, excluded: excluded),
            policy: WaitPolicy(unknownNodes: policy))
    }

    private static func transitionTime(_ node: V1Node) -> Date? {
        guard let text = node.status?.conditions?.first(where: { $0.type == "Ready" })?.lastTransitionTime else { return nil }
        return try? Date(text, strategy: .iso8601)
    }
}

extension NodeVerdict.Reason {
    /// Where a node with this reason is listed in an answer.
    public enum Group: Sendable { case pending, unknown, excluded }

    public var group: Group {
        switch self {
        case .stale, .missing, .fallback, .converged, .behind, .endpoint: .pending
        case .disconnected, .silent, .agentNotReady: .unknown
        case .nodeDeleting, .nodeNotReady, .noAgent: .excluded
        }
    }
}
