public import Foundation

/// One line of an agent's acknowledgement stream (`GET /v1/acks`, docs/agent-api.md).
///
/// A reader gets either a ``AckSnapshot`` (all current acks, replacing whatever it held) or the
/// ``AckDelta``s after the sequence it resumed from, then live deltas and ``AckHeartbeat``s.
public enum AckMessage: Hashable, Sendable, Codable {
    case snapshot(AckSnapshot)
    case delta(AckDelta)
    case heartbeat(AckHeartbeat)

    /// The journal sequence the reader is at after this message.
    public var sequence: UInt64 {
        switch self {
        case .snapshot(let snapshot): snapshot.seq
        case .delta(let delta): delta.seq
        case .heartbeat(let heartbeat): heartbeat.seq
        }
    }

    private enum CodingKeys: String, CodingKey { case type }

    /// The `type` field's values.
    public enum Kind: String, Sendable, Codable { case snapshot, delta, heartbeat }

    public var kind: Kind {
        switch self {
        case .snapshot: .snapshot
        case .delta: .delta
        case .heartbeat: .heartbeat
        }
    }

    public init(from decoder: any Decoder) throws {
        let kind = try decoder.container(keyedBy: CodingKeys.self).decode(Kind.self, forKey: .type)
        switch kind {
        case .snapshot: self = .snapshot(try AckSnapshot(from: decoder))
        case .delta: self = .delta(try AckDelta(from: decoder))
        case .heartbeat: self = .heartbeat(try AckHeartbeat(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .type)
        switch self {
        case .snapshot(let snapshot): try snapshot.encode(to: encoder)
        case .delta(let delta): try delta.encode(to: encoder)
        case .heartbeat(let heartbeat): try heartbeat.encode(to: encoder)
        }
    }
}

/// Everything a reader needs to start over: every current ack of the node at sequence `seq`.
public struct AckSnapshot: Hashable, Sendable, Codable {
    /// The node's name.
    public var node: String
    /// The agent incarnation; a reader resumes only within one epoch.
    public var epoch: String
    public var seq: UInt64
    /// Whether the agent has read its dataplane and synced its watch (its acks mean something).
    public var ready: Bool
    /// The EndpointSlice watch's last seen resourceVersion (freshness); `nil` before the first list.
    public var watch: String?
    /// Current acks, sorted by key.
    public var acks: [Ack]
    /// The node's dataplane mode (`nftables`, `iptables`, …) once known; absent from older agents.
    public var mode: String?

    public init(node: String, epoch: String, seq: UInt64, ready: Bool, watch: String?, acks: [Ack], mode: String? = nil) {
        self.node = node
        self.epoch = epoch
        self.seq = seq
        self.ready = ready
        self.watch = watch
        self.acks = acks
        self.mode = mode
    }

    private enum CodingKeys: String, CodingKey { case node, epoch, seq, ready, watch, acks, mode }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(node, forKey: .node)
        try container.encode(epoch, forKey: .epoch)
        try container.encode(seq, forKey: .seq)
        try container.encode(ready, forKey: .ready)
        try container.encode(watch, forKey: .watch)
        try container.encode(acks, forKey: .acks)
        try container.encodeIfPresent(mode, forKey: .mode)
    }
}

/// One recorded change of the journal: acks added or replaced, keys whose acks left, and how
/// fresh the agent's view was when it recorded them.
///
/// A delta with no acks and no expired keys is **watch progress**: the agent applied EndpointSlice
/// events up to `watch` and no ack changed. It is what lets an aggregator tell "this node saw the
/// change and has nothing to say about the endpoint" from "this node has not seen it yet".
public struct AckDelta: Hashable, Sendable, Codable {
    /// Exactly one more than the previous delta's (or the snapshot's) sequence.
    public var seq: UInt64
    /// New or changed acks (replace the reader's ack for the same key), sorted by key.
    public var acks: [Ack]
    /// Keys whose acks left the journal (converged past the retention window), sorted.
    public var expired: [AckKey]
    /// The EndpointSlice watch's resourceVersion whose events these acks include; absent from
    /// older agents.
    public var watch: String?

    public init(seq: UInt64, acks: [Ack], expired: [AckKey], watch: String? = nil) {
        self.seq = seq
        self.acks = acks
        self.expired = expired
        self.watch = watch
    }
}

/// "Still here, at sequence `seq`": sent when the stream is idle and once right after a resume.
public struct AckHeartbeat: Hashable, Sendable, Codable {
    public var epoch: String
    public var seq: UInt64
    public var time: Date
    public var ready: Bool
    public var watch: String?

    public init(epoch: String, seq: UInt64, time: Date, ready: Bool, watch: String?) {
        self.epoch = epoch
        self.seq = seq
        self.time = time
        self.ready = ready
        self.watch = watch
    }

    private enum CodingKeys: String, CodingKey { case epoch, seq, time, ready, watch }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(epoch, forKey: .epoch)
        try container.encode(seq, forKey: .seq)
        try container.encode(time, forKey: .time)
        try container.encode(ready, forKey: .ready)
        try container.encode(watch, forKey: .watch)
    }
}
