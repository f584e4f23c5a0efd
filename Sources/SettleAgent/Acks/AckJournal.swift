public import Foundation
public import SettleConvergence

/// The resumable acknowledgement stream of one node: the current acks (endpoints in transition)
/// and a bounded ring of the latest deltas, numbered 1, 2, 3… within one agent incarnation (`epoch`).
///
/// A reader that remembers `(epoch, seq)` asks ``messages(after:epoch:)`` and gets the deltas it
/// missed, or, when it cannot be served from the ring (first contact, fell behind, another
/// incarnation), one snapshot that replaces what it held. Either way it ends up with exactly the
/// journal's acks, which is what makes the stream safe to resume: it never loses an ack.
/// Pure value; ``AckHub`` shares one between the agent and many readers.
public struct AckJournal: Sendable {
    public let node: String
    /// Chosen at start; a restarted agent has another, so old sequence numbers are not trusted.
    public let epoch: String
    /// How many deltas the ring keeps; a reader further behind gets a snapshot.
    public let capacity: Int
    /// The sequence of the latest delta; 0 before the first.
    public private(set) var sequence: UInt64 = 0
    /// Whether the agent's acks mean something yet (dataplane read, watch synced).
    public var ready = false
    /// The EndpointSlice watch's last seen resourceVersion.
    public var watch: String?
    /// The node's dataplane mode, for snapshots.
    public var mode: String?
    /// The `watch` the latest delta (or the start) carried: a later `watch` is progress to record.
    private var recordedWatch: String?

    private var acks: [AckKey: Ack] = [:]
    /// The latest deltas, oldest first; `ring.last?.seq == sequence` when not empty.
    private var ring: [AckDelta] = []
    private var ringStart = 0

    /// A random epoch: 16 hex digits.
    public static func newEpoch() -> String {
        let value = UInt64.random(in: 0...UInt64.max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    public init(node: String, epoch: String = AckJournal.newEpoch(), capacity: Int = 4096) {
        self.node = node
        self.epoch = epoch
        self.capacity = max(1, capacity)
    }

    /// The acks currently held, sorted by key.
    public var currentAcks: [Ack] { acks.values.sorted() }

    /// The ack for one key, if its endpoint is in transition.
    public subscript(key: AckKey) -> Ack? { acks[key] }

    /// How many deltas the ring holds now.
    public var heldDeltas: Int { ring.count }

    /// Applies one change: `changed` acks replace those with the same key, `expired` keys leave.
    /// Appends one delta (sequence + 1) carrying the current ``watch`` and returns it, or returns
    /// `nil` and leaves the sequence alone when both are empty and ``watch`` is what the previous
    /// delta carried. (Both empty with a new ``watch`` is a progress delta, see ``AckDelta``.)
    @discardableResult
    public mutating func record(changed: [Ack], expired: [AckKey]) -> AckDelta? {
        guard !changed.isEmpty || !expired.isEmpty || (watch != recordedWatch && ready) else {
            recordedWatch = watch
            return nil
        }
        recordedWatch = watch
        // The last value for a key wins, as it would for a reader applying the delta in order.
        var latest: [AckKey: Ack] = [:]
        for ack in changed { latest[ack.key] = ack }
        let expiredKeys = Set(expired).subtracting(latest.keys)
        for key in expiredKeys { acks[key] = nil }
        for (key, ack) in latest { acks[key] = ack }
        sequence += 1
        let delta = AckDelta(seq: sequence, acks: latest.values.sorted(), expired: expiredKeys.sorted(), watch: watch)
        if ring.count < capacity {
            ring.append(delta)
        } else {
            ring[ringStart] = delta
            ringStart = (ringStart + 1) % capacity
        }
        return delta
    }

    /// Records a tracker's update; `wallTime` maps its instants to dates (see ``Ack/wallTime(now:date:)``).
    @discardableResult
    public mutating func record<Instant: InstantProtocol>(
        changed: [TrackedEndpoint<Instant>], expired: [EndpointStatus.Key], wallTime: (Instant) -> Date
    ) -> AckDelta? {
        record(changed: changed.map { Ack($0, wallTime: wallTime) }, expired: expired.map(AckKey.init))
    }

    /// The snapshot of the journal now.
    public func snapshot() -> AckSnapshot {
        AckSnapshot(node: node, epoch: epoch, seq: sequence, ready: ready, watch: watch, acks: currentAcks, mode: mode)
    }

    /// A heartbeat at the current sequence.
    public func heartbeat(time: Date = Date()) -> AckHeartbeat {
        AckHeartbeat(epoch: epoch, seq: sequence, time: time, ready: ready, watch: watch)
    }

    /// What a reader at `(epoch, sequence)` needs to catch up.
    public enum Reply: Hashable, Sendable {
        /// Start over: the reader had nothing, another epoch, or a sequence outside the ring.
        case snapshot(AckSnapshot)
        /// The deltas after the reader's sequence, in order (empty when it is up to date).
        case deltas([AckDelta])

        /// As stream messages.
        public var messages: [AckMessage] {
            switch self {
            case .snapshot(let snapshot): [.snapshot(snapshot)]
            case .deltas(let deltas): deltas.map(AckMessage.delta)
            }
        }
    }

    /// Whether a reader at `(epoch, sequence)` can be served from the ring.
    public func canResume(after sequence: UInt64?, epoch: String?) -> Bool {
        guard let sequence, epoch == self.epoch, sequence <= self.sequence else { return false }
        return self.sequence - sequence <= UInt64(ring.count)
    }

    /// The deltas after `sequence` when the reader is on this epoch and the ring still holds them
    /// all; otherwise a snapshot. `sequence == nil` (first contact) or `epoch == nil` always gets
    /// a snapshot: a sequence without its epoch could belong to an earlier incarnation.
    public func messages(after sequence: UInt64?, epoch: String?) -> Reply {
        guard canResume(after: sequence, epoch: epoch), let sequence else { return .snapshot(snapshot()) }
        let missing = Int(self.sequence - sequence)
        guard missing > 0 else { return .deltas([]) }
        // Oldest-first order of the ring, taking the last `missing` entries.
        var deltas: [AckDelta] = []
        deltas.reserveCapacity(missing)
        for offset in (ring.count - missing)..<ring.count {
            deltas.append(ring[(ringStart + offset) % ring.count])
        }
        return .deltas(deltas)
    }
}
