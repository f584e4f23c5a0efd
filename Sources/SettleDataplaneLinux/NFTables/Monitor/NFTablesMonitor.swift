#if os(Linux)
import CMNL
import Foundation
import Glibc
public import Logging
public import SettleDataplane
public import SettleModel
import Synchronization

/// Follows kube-proxy's nftables tables (`ip`/`ip6 kube-proxy`) through netlink change events, as
/// `nft monitor` does, and keeps the routed service ports up to date within milliseconds.
///
/// On its own thread, inside the namespace: subscribes a `NETLINK_NETFILTER` socket to
/// `NFNLGRP_NFTABLES` first, then reads everything once on a second socket (generation-checked,
/// as ``NFTablesReader`` reads), then applies each committed transaction's events to an
/// ``NFTMirror`` when its closing `NFT_MSG_NEWGEN` arrives (transactions the full read already
/// saw, generation ≤ the read's, are skipped). It reads everything again — never guessing — when
/// events were lost (`ENOBUFS`), when a transaction cannot be applied consistently, and every
/// `resyncInterval`.
public final class NFTablesMonitor: Sendable {
    public let netns: String?
    public let receiveBufferBytes: Int
    public let forceReceiveBuffer: Bool
    public let resyncInterval: Duration
    let logger: Logger

    /// - Parameters:
    ///   - receiveBufferBytes: the event socket's receive buffer. A kube-proxy full sync at 10k
    ///     services is ~260k events; at the default 208 KB they overflow (then: a full read).
    ///   - forceReceiveBuffer: use `SO_RCVBUFFORCE` (needs CAP_NET_ADMIN) so `rmem_max` does not cap
    ///     the size; falls back to `SO_RCVBUF`.
    ///   - resyncInterval: how often to read everything again regardless of events.
    public init(
        netns: String?, receiveBufferBytes: Int = 16 << 20, forceReceiveBuffer: Bool = true, resyncInterval: Duration = .seconds(600),
        logger: Logger = Logger(label: "settle.nftables-monitor")
    ) {
        self.netns = netns
        self.receiveBufferBytes = receiveBufferBytes
        self.forceReceiveBuffer = forceReceiveBuffer
        self.resyncInterval = resyncInterval
        self.logger = logger
    }

    /// Runs until the consuming task is cancelled (or the stream is dropped): first a full
    /// snapshot, then one update per committed transaction that touched kube-proxy's tables
    /// (`changed` may be empty), and a full one after every resync. A stop interrupts a full read
    /// between two chains. Throws when the tables cannot be read at all (no
    /// permission, no such namespace).
    public func updates() -> AsyncThrowingStream<NFTablesMonitorUpdate, any Error> {
        let (stream, continuation) = AsyncThrowingStream<NFTablesMonitorUpdate, any Error>.makeStream()
        let control: StopSignal
        do {
            if let netns { try NetworkNamespace.validate(netns) }
            control = try StopSignal()
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        continuation.onTermination = { _ in control.stop() }
        let thread = Thread { [self] in
            do throws(DataplaneError) {
                if let netns { try NetworkNamespace.enter(netns) }
                var loop = try MonitorLoop(monitor: self, stop: control, continuation: continuation)
                try loop.run()
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        thread.stackSize = 8 << 20
        thread.name = "settle-nft-monitor"
        thread.start()
        return stream
    }
}

/// What the monitor reports: a full snapshot, or what one transaction changed.
public struct NFTablesMonitorUpdate: Sendable {
    public enum ResyncReason: Sendable, Hashable, CustomStringConvertible {
        /// The first read.
        case initial
        /// `resyncInterval` elapsed.
        case periodic
        /// The event socket's receive buffer overflowed (`ENOBUFS`): events were lost.
        case overflow
        /// A transaction could not be applied consistently (the sentence says what).
        case inconsistent(String)

        public var description: String {
            switch self {
            case .initial: "initial"
            case .periodic: "periodic"
            case .overflow: "overflow"
            case .inconsistent: "inconsistent"
            }
        }
    }

    public enum Kind: Sendable, Hashable {
        case full(reason: ResyncReason)
        case incremental
    }

    public var kind: Kind
    /// The ruleset generation the update brings the answer to.
    public var generation: UInt32
    /// Everything routed; for `.full` updates only.
    public var snapshot: DataplaneSnapshot?
    /// For `.incremental`: each service port whose routing changed, by
    /// ``SettleModel/RoutedServicePort/identity``; `nil` when it left the dataplane.
    public var changed: [String: RoutedServicePort?]
    /// For `.incremental`: the warnings of the dispatch entries walked again (a full read's
    /// sentences). For `.full` empty: they are in `snapshot.warnings`.
    public var warnings: [String]
    /// When the transaction's closing `NFT_MSG_NEWGEN` was read (for `.full`: when the read ended).
    public var receivedAt: ContinuousClock.Instant
    /// Decode + apply + walk time of the transaction (for `.full`: the whole read).
    public var applyDuration: Duration
    /// Event messages in the transaction (for `.full`: 0).
    public var eventCount: Int
    /// Full reads so far because events were lost (`ENOBUFS`), including this one.
    public var overflowCount: Int
}

/// Wakes the monitor thread's `poll` and tells it to stop. Owns the pipe.
final class StopSignal: Sendable {
    private let stopped = Atomic<Bool>(false)
    let readEnd: Int32
    private let writeEnd: Int32

    init() throws(DataplaneError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw .netlink(operation: "pipe for the monitor's stop signal", errno: errno) }
        readEnd = fds[0]
        writeEnd = fds[1]
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    func stop() {
        stopped.store(true, ordering: .releasing)
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }
}

/// The monitor thread's state: both sockets, the mirror, the transaction being received.
private struct MonitorLoop {
    let monitor: NFTablesMonitor
    let stop: StopSignal
    let continuation: AsyncThrowingStream<NFTablesMonitorUpdate, any Error>.Continuation
    let events: NetlinkSocket
    let dumper: NFTablesNetlinkDumper
    let interner = StringInterner()
    var mirror = NFTMirror()
    /// Generation of the last full read: transactions up to it are already in the mirror.
    var baseGeneration: UInt32 = 0
    var pending: [NFTChange] = []
    var pendingEvents = 0
    var pendingDecode: Duration = .zero
    var lastFullRead = ContinuousClock.now
    var overflows = 0

    init(monitor: NFTablesMonitor, stop: StopSignal, continuation: AsyncThrowingStream<NFTablesMonitorUpdate, any Error>.Continuation) throws(DataplaneError) {
        self.monitor = monitor
        self.stop = stop
        self.continuation = continuation
        events = try NetlinkSocket(bus: NETLINK_NETFILTER)
        let size = events.setReceiveBuffer(bytes: monitor.receiveBufferBytes, force: monitor.forceReceiveBuffer)
        // Subscribe before the full read, so no commit falls between the read and the events.
        try events.subscribe(group: UInt32(NFNLGRP_NFTABLES.rawValue))
        dumper = NFTablesNetlinkDumper(socket: try NetlinkSocket(bus: NETLINK_NETFILTER))
        monitor.logger.debug("nftables monitor subscribed", metadata: ["receiveBuffer": "\(size)"])
    }

    mutating func run() throws(DataplaneError) {
        try fullRead(.initial)
        while !stop.isStopped {
            let untilResync = monitor.resyncInterval - (ContinuousClock.now - lastFullRead)
            if untilResync <= .zero {
                try fullRead(.periodic)
                continue
            }
            var fds = [pollfd(fd: events.fileDescriptor, events: Int16(POLLIN), revents: 0), pollfd(fd: stop.readEnd, events: Int16(POLLIN), revents: 0)]
            let milliseconds = Int32(clamping: min(untilResync.components.seconds * 1000 + untilResync.components.attoseconds / 1_000_000_000_000_000 + 1, 1000))
            let ready = poll(&fds, 2, milliseconds)
            if ready < 0 && errno != EINTR { throw .netlink(operation: "poll for nftables events", errno: errno) }
            if stop.isStopped { return }
            guard ready > 0, fds[0].revents != 0 else { continue }
            try drain()
        }
    }

    /// Receives every queued datagram and handles its messages.
    private mutating func drain() throws(DataplaneError) {
        while !stop.isStopped {
            var resync: NFTablesMonitorUpdate.ResyncReason?
            let received: Bool
            do throws(DataplaneError) {
                received = try events.receiveQueued { header in
                    guard resync == nil else { return }
                    resync = handle(header)
                }
            } catch {
                guard case .netlink(_, let code) = error, code == ENOBUFS else { throw error }
                overflows += 1
                monitor.logger.warning("nftables events lost (receive buffer overflow); reading everything again", metadata: ["overflows": "\(overflows)"])
                discardQueued()
                try fullRead(.overflow)
                continue
            }
            if let resync {
                // The rest of this datagram belongs to transactions the full read will see.
                try fullRead(resync)
            }
            if !received { return }
        }
    }

    /// Empties the event socket before a full read after an overflow. The kernel reports ENOBUFS
    /// once per congestion and then drops further events *silently* until the queue has been
    /// emptied (`netlink_overrun` sets `NETLINK_S_CONGESTED`, cleared only when the receive queue
    /// is empty). A full read taken while the old queue is still there would be followed by
    /// events lost without notice; emptied first, every event still queued after the read is
    /// newer than nothing the read saw, and a new overflow is reported again.
    private func discardQueued() {
        while !stop.isStopped {
            do throws(DataplaneError) {
                if try !events.receiveQueued(handle: { _ in }) { return }
            } catch {
                guard case .netlink(_, let code) = error, code == ENOBUFS else { return }
            }
        }
    }

    /// One event message; returns a reason to read everything again, if any.
    private mutating func handle(_ header: UnsafePointer<nlmsghdr>) -> NFTablesMonitorUpdate.ResyncReason? {
        let started = ContinuousClock.now
        let event = NFTablesEventDecoder.decode(header, interner: interner)
        switch event {
        case .change(let change):
            pending.append(change)
            pendingEvents += 1
            pendingDecode += ContinuousClock.now - started
            return nil
        case .ignored:
            return nil
        case .undecodable(let what):
            pending.removeAll()
            return .inconsistent("an nftables \(what) event could not be decoded")
        case .generation(let generation):
            let receivedAt = started
            defer {
                pending.removeAll(keepingCapacity: true)
                pendingEvents = 0
                pendingDecode = .zero
            }
            // Already in the mirror (the full read saw it), or no kube-proxy change in it.
            guard Int32(bitPattern: generation &- baseGeneration) > 0, !pending.isEmpty else { return nil }
            let update = mirror.apply(pending)
            let applyDuration = pendingDecode + (ContinuousClock.now - receivedAt)
            if let problem = update.inconsistencies.first {
                return .inconsistent(problem)
            }
            // Reported even when no routing changed: the consumer learns the generation moved.
            continuation.yield(NFTablesMonitorUpdate(
                kind: .incremental, generation: generation, snapshot: nil, changed: update.changed, warnings: update.warnings,
                receivedAt: receivedAt, applyDuration: applyDuration, eventCount: pendingEvents, overflowCount: overflows))
            return nil
        }
    }

    /// Reads kube-proxy's tables in full (generation-checked) into a new mirror and reports it.
    private mutating func fullRead(_ reason: NFTablesMonitorUpdate.ResyncReason) throws(DataplaneError) {
        let started = ContinuousClock.now
        pending.removeAll()
        pendingEvents = 0
        pendingDecode = .zero
        if case .inconsistent(let why) = reason {
            monitor.logger.warning("nftables monitor: reading everything again", metadata: ["reason": "\(why)"])
        }
        var attempts = 0
        while true {
            if stop.isStopped { return }
            attempts += 1
            do throws(DataplaneError) {
                let before = try dumper.generation()
                var dump: [NFTMirrorTableDump] = []
                for (family, name) in try dumper.tables() where name == NFTRuleset.kubeProxyTable && (family == .ip || family == .ip6) {
                    dump.append(try dumper.mirrorTable(family: family, name: name) { [stop] in stop.isStopped })
                }
                guard try dumper.generation() == before else { continue }
                mirror = NFTMirror(dump: dump)
                baseGeneration = before
                break
            } catch {
                if stop.isStopped { return }
                // A commit raced the read: try again (kube-proxy syncs are short).
                guard case .netlink(_, let code) = error, code == EINTR else { throw error }
                if attempts > 100 { throw error }
            }
        }
        lastFullRead = ContinuousClock.now
        var snapshot = mirror.snapshot()
        if !mirror.hasTable(.ip) && !mirror.hasTable(.ip6) {
            // The same note a full read gives (NFTablesReader.read).
            snapshot.warnings.insert("no kube-proxy nftables tables (ip/ip6 kube-proxy) found", at: 0)
        }
        continuation.yield(NFTablesMonitorUpdate(
            kind: .full(reason: reason), generation: baseGeneration, snapshot: snapshot, changed: [:], warnings: [],
            receivedAt: lastFullRead, applyDuration: lastFullRead - started, eventCount: 0, overflowCount: overflows))
    }
}
#endif
