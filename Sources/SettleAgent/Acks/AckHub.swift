public import Foundation
public import SettleConvergence
import Synchronization

/// One node's ``AckJournal`` shared between the agent (one writer) and any number of stream
/// readers, who wait for "sequence > N" without polling.
///
/// Writing never waits for readers: ``record(changed:expired:)`` updates the journal under a lock
/// and wakes the waiting readers; each reader then copies what it needs. A reader that is slower
/// than the ring is long gets a snapshot when it catches up (``AckJournal/messages(after:epoch:)``),
/// so a slow or stalled reader costs the writer and the other readers nothing.
public final class AckHub: Sendable {
    private struct State {
        var journal: AckJournal
        var nextID = 0
        /// Readers waiting for a sequence beyond theirs.
        var waiters: [Int: (after: UInt64, continuation: CheckedContinuation<Void, Never>)] = [:]
    }

    private let state: Mutex<State>
    /// Fired by ``close()``: every stream ends.
    private let closed = StopSignal()

    public let node: String
    public let epoch: String

    public init(journal: AckJournal) {
        self.node = journal.node
        self.epoch = journal.epoch
        self.state = Mutex(State(journal: journal))
    }

    public convenience init(node: String, epoch: String = AckJournal.newEpoch(), capacity: Int = 4096) {
        self.init(journal: AckJournal(node: node, epoch: epoch, capacity: capacity))
    }

    // MARK: Writer

    /// Records one change (see ``AckJournal/record(changed:expired:)``) and wakes the readers it concerns.
    @discardableResult
    public func record(changed: [Ack], expired: [AckKey]) -> AckDelta? {
        let (delta, woken) = state.withLock { state -> (AckDelta?, [CheckedContinuation<Void, Never>]) in
            guard let delta = state.journal.record(changed: changed, expired: expired) else { return (nil, []) }
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where waiter.after < delta.seq {
                woken.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return (delta, woken)
        }
        for continuation in woken { continuation.resume() }
        return delta
    }

    /// Records a tracker's update; `wallTime` maps its instants to dates (``Ack/wallTime(now:date:)``
    /// for the continuous clock).
    @discardableResult
    public func record<Instant: InstantProtocol>(
        changed: [TrackedEndpoint<Instant>], expired: [EndpointStatus.Key], wallTime: (Instant) -> Date
    ) -> AckDelta? {
        record(changed: changed.map { Ack($0, wallTime: wallTime) }, expired: expired.map(AckKey.init))
    }

    /// Sets readiness; readers learn it from the next snapshot or heartbeat.
    public func setReady(_ ready: Bool) { state.withLock { $0.journal.ready = ready } }

    /// Sets the EndpointSlice watch's resourceVersion; readers learn it from the next snapshot,
    /// delta or heartbeat.
    public func setWatch(_ resourceVersion: String?) { state.withLock { $0.journal.watch = resourceVersion } }

    /// Sets the dataplane mode snapshots report.
    public func setMode(_ mode: String?) { state.withLock { $0.journal.mode = mode } }

    /// Records watch progress: the agent applied EndpointSlice events up to `resourceVersion` and
    /// no ack changed. A progress delta is sent when the version differs from the one the latest
    /// delta carried (and the journal is ready); returns it.
    @discardableResult
    public func progress(watch resourceVersion: String?) -> AckDelta? {
        setWatch(resourceVersion)
        return record(changed: [], expired: [])
    }

    /// Ends every stream (now and later): the agent is stopping.
    public func close() {
        closed.fire()
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            defer { state.waiters.removeAll() }
            return state.waiters.values.map(\.continuation)
        }
        for continuation in woken { continuation.resume() }
    }

    public var isClosed: Bool { closed.isFired }

    // MARK: Readers

    /// A copy of the journal now.
    public var journal: AckJournal { state.withLock { $0.journal } }

    public var sequence: UInt64 { state.withLock { $0.journal.sequence } }

    public func snapshot() -> AckSnapshot { state.withLock { $0.journal.snapshot() } }

    public func heartbeat(time: Date = Date()) -> AckHeartbeat { state.withLock { $0.journal.heartbeat(time: time) } }

    /// See ``AckJournal/messages(after:epoch:)``.
    public func messages(after sequence: UInt64?, epoch: String?) -> AckJournal.Reply {
        state.withLock { $0.journal.messages(after: sequence, epoch: epoch) }
    }

    /// What a stream reader at `(epoch, sequence)` is sent next: a snapshot, or the deltas it
    /// missed followed by a heartbeat at the same sequence (atomically, so the heartbeat's
    /// sequence is the last delta's).
    func catchUp(after sequence: UInt64?, epoch: String?, heartbeat: Bool, time: Date = Date()) -> [AckMessage] {
        state.withLock { state in
            switch state.journal.messages(after: sequence, epoch: epoch) {
            case .snapshot(let snapshot):
                return [.snapshot(snapshot)]
            case .deltas(let deltas):
                return deltas.map(AckMessage.delta) + (heartbeat ? [.heartbeat(state.journal.heartbeat(time: time))] : [])
            }
        }
    }

    /// Returns once the sequence is beyond `sequence`, the hub is closed, or the task is cancelled.
    public func waitForSequence(after sequence: UInt64) async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.journal.sequence > sequence || closed.isFired || Task.isCancelled { return true }
                    state.waiters[id] = (sequence, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }

    /// How many readers are waiting now (for tests and diagnostics).
    public var waitingReaders: Int { state.withLock { $0.waiters.count } }

    /// The stream a reader at `(epoch, since)` follows: a snapshot or the missed deltas (then a
    /// heartbeat), then live deltas, and a heartbeat whenever nothing was sent for
    /// `heartbeatInterval`. It ends when the hub closes, `stop` fires or the task is cancelled.
    public func subscribe(
        since: UInt64?, epoch: String?, heartbeatInterval: Duration = .seconds(5), stop: StopSignal? = nil
    ) -> AckSubscription {
        AckSubscription(hub: self, since: since, epoch: epoch, heartbeatInterval: heartbeatInterval, stop: stop)
    }

    fileprivate var closedSignal: StopSignal { closed }
}

/// The messages of one `/v1/acks` reader, as an async sequence (``AckHub/subscribe(since:epoch:heartbeatInterval:stop:)``).
public struct AckSubscription: AsyncSequence, Sendable {
    public typealias Element = AckMessage

    let hub: AckHub
    let since: UInt64?
    let epoch: String?
    let heartbeatInterval: Duration
    let stop: StopSignal?

    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: self)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let subscription: AckSubscription
        private var position: UInt64?
        private var epoch: String?
        private var started = false
        private var pending: [AckMessage] = []

        init(subscription: AckSubscription) {
            self.subscription = subscription
            self.position = subscription.since
            self.epoch = subscription.epoch
        }

        private var isStopped: Bool {
            subscription.hub.isClosed || subscription.stop?.isFired == true || Task.isCancelled
        }

        public mutating func next() async -> AckMessage? {
            while pending.isEmpty {
                if isStopped { return nil }
                let hub = subscription.hub
                if started {
                    let changed = await Self.wait(
                        hub: hub, after: position ?? 0, timeout: subscription.heartbeatInterval, stop: subscription.stop)
                    if isStopped { return nil }
                    pending = hub.catchUp(after: position, epoch: epoch, heartbeat: !changed)
                } else {
                    started = true
                    pending = hub.catchUp(after: position, epoch: epoch, heartbeat: true)
                }
                if let last = pending.last {
                    position = last.sequence
                    epoch = hub.epoch
                }
            }
            return pending.removeFirst()
        }

        /// Waits for a sequence beyond `after`, the timeout, the hub closing or `stop`; `true` when
        /// the sequence moved.
        private static func wait(hub: AckHub, after: UInt64, timeout: Duration, stop: StopSignal?) async -> Bool {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await hub.waitForSequence(after: after)
                    return hub.sequence > after
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return false
                }
                group.addTask {
                    await (stop ?? hub.closedSignal).wait()
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
        }
    }
}
