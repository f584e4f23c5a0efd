public import Foundation
public import SettleAcks
public import SettleModel

/// What the aggregator knows about one node: its agent's stream (the acks it holds, the epoch and
/// sequence to resume from, how fresh its watch is) and its Node object.
public struct NodeState: Sendable {
    public let name: String
    /// The agent's base URL (`http://10.0.0.1:9467`), or `nil` when the node has no agent.
    public var agent: String?
    /// The node had an agent (or has an agent pod that is not running): without a URL now it
    /// is `unknown` — an agent being replaced — not excluded as a node that never runs one.
    public var agentExpected = false
    /// The stream is open and its first message arrived.
    public var connected = false
    /// No message arrived for the silence timeout (set by ``Aggregation/tick(now:)``).
    public var silent = false
    /// Why the stream is down, when it is.
    public var failure: String?
    public var epoch: String?
    public var sequence: UInt64?
    public var ready = false
    /// The agent's EndpointSlice watch resourceVersion (latest of snapshot, delta or heartbeat).
    public var watch: String? {
        didSet { if watch != oldValue { watchNumber = watch.flatMap { UInt64($0) } } }
    }
    /// `watch` as a number, parsed once (every verdict compares it).
    public private(set) var watchNumber: UInt64?
    public var mode: String?
    public var lastMessage: Date?
    public var connects = 0
    public var malformed = 0
    public private(set) var acks: [AckKey: Ack] = [:]
    private var keysByIP: [IPAddress: Set<AckKey>] = [:]

    /// The Node object: present, its Ready condition, since when it is not Ready, being deleted.
    public var hasNodeObject = false
    public var nodeReady: Bool?
    public var nodeNotReadySince: Date?
    public var nodeDeleting = false
    /// NotReady for longer than the grace period (set by ``Aggregation/tick(now:)``).
    public var notReadyTooLong = false

    public init(name: String) {
        self.name = name
    }

    /// The acks this node holds for one IP.
    public func acks(for ip: IPAddress) -> [Ack] {
        guard let keys = keysByIP[ip] else { return [] }
        if keys.count == 1, let key = keys.first { return acks[key].map { [$0] } ?? [] }
        return keys.compactMap { acks[$0] }.sorted()
    }

    /// Whether the node counts, and if not, why: `nil` when it counts.
    public var exclusion: NodeVerdict.Reason? {
        if nodeDeleting { return .nodeDeleting }
        if notReadyTooLong { return .nodeNotReady }
        if agent == nil { return agentExpected ? .disconnected : .noAgent }
        if !connected { return .disconnected }
        if silent { return .silent }
        if !ready { return .agentNotReady }
        return nil
    }

    /// What changed when a message was applied.
    public struct Applied: Sendable {
        /// IPs whose acks changed.
        public var ips: Set<IPAddress> = []
        /// The watch moved forward (nodes `behind` may have caught up).
        public var watchMoved = false
        /// The watch moved backward or to something that is not a number: every verdict of the
        /// node must be checked again (an agent's watch should only grow within an epoch).
        public var watchRegressed = false
        /// Readiness (and so the node's group) changed, or the acks were replaced wholesale.
        public var statusChanged = false
    }

    /// Applies one message of the agent's stream.
    public mutating func apply(_ message: AckMessage, at now: Date) -> Applied {
        var applied = Applied()
        lastMessage = now
        if silent {
            silent = false
            applied.statusChanged = true
        }
        if !connected {
            connected = true
            failure = nil
            applied.statusChanged = true
        }
        let oldWatch = watch
        let wasReady = ready
        switch message {
        case .snapshot(let snapshot):
            for key in acks.keys { applied.ips.insert(key.ip) }
            acks = [:]
            keysByIP = [:]
            for ack in snapshot.acks { insert(ack) }
            for ack in snapshot.acks { applied.ips.insert(ack.ip) }
            epoch = snapshot.epoch
            ready = snapshot.ready
            watch = snapshot.watch
            mode = snapshot.mode ?? mode
            applied.statusChanged = true
        case .delta(let delta):
            for key in delta.expired {
                remove(key)
                applied.ips.insert(key.ip)
            }
            for ack in delta.acks {
                insert(ack)
                applied.ips.insert(ack.ip)
            }
            if let version = delta.watch { watch = version }
        case .heartbeat(let heartbeat):
            ready = heartbeat.ready
            if heartbeat.epoch == epoch { watch = heartbeat.watch ?? watch }
        }
        sequence = message.sequence
        if ready != wasReady { applied.statusChanged = true }
        if watch != oldWatch {
            if resourceVersion(watch, isAtLeast: oldWatch) == true { applied.watchMoved = true } else { applied.watchRegressed = true }
        }
        return applied
    }

    /// The stream went down: the acks are kept (to resume), the node is `unknown` until it is back.
    public mutating func disconnect(reason: String) -> Bool {
        failure = reason
        guard connected else { return false }
        connected = false
        return true
    }

    /// Forgets the stream (the agent is gone or replaced).
    public mutating func resetStream() {
        acks = [:]
        keysByIP = [:]
        epoch = nil
        sequence = nil
        ready = false
        watch = nil
        connected = false
        silent = false
    }

    private mutating func insert(_ ack: Ack) {
        let key = ack.key
        acks[key] = ack
        keysByIP[ack.ip, default: []].insert(key)
    }

    private mutating func remove(_ key: AckKey) {
        guard acks.removeValue(forKey: key) != nil else { return }
        keysByIP[key.ip]?.remove(key)
        if keysByIP[key.ip]?.isEmpty == true { keysByIP[key.ip] = nil }
    }
}
