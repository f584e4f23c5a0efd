#if os(Linux)
import CMNL
import CNFTNL
public import Foundation
import Glibc
public import SettleDataplane
import Synchronization

/// Records when each nftables transaction is committed in a namespace: the instant its
/// `NFT_MSG_NEWGEN` event is read, on a thread that does nothing else. Benchmarks use it as the
/// "rule changed" moment, so a latency is measured from the kernel's commit rather than from
/// starting (or exiting) the `nft` process that made it.
public final class NFTablesCommitWatcher: Sendable {
    private let commits = Mutex<[(generation: UInt32, at: ContinuousClock.Instant, wall: Date)]>([])
    private let stopped = Atomic<Bool>(false)
    private let started = Mutex<Result<Void, DataplaneError>?>(nil)

    /// Starts watching `netns` (nil: this namespace); returns once subscribed, so every later
    /// commit is seen.
    public init(netns: String?) throws(DataplaneError) {
        let thread = Thread { [self] in
            do throws(DataplaneError) {
                if let netns { try NetworkNamespace.enter(netns) }
                let socket = try NetlinkSocket(bus: NETLINK_NETFILTER)
                try socket.subscribe(group: UInt32(NFNLGRP_NFTABLES.rawValue))
                _ = socket.setReceiveBuffer(bytes: 64 << 20, force: true)
                started.withLock { $0 = .success(()) }
                var poller = pollfd(fd: socket.fileDescriptor, events: Int16(POLLIN), revents: 0)
                while !stopped.load(ordering: .relaxed) {
                    guard poll(&poller, 1, 50) > 0 else { continue }
                    let now = ContinuousClock.now
                    let wall = Date()
                    var generations: [UInt32] = []
                    do throws(DataplaneError) {
                        _ = try socket.receiveQueued { header in
                            let type = Int32(header.pointee.nlmsg_type)
                            guard type >> 8 == NFNL_SUBSYS_NFTABLES, UInt32(type & 0xff) == NFT_MSG_NEWGEN.rawValue,
                                let gen = nftnl_gen_alloc()
                            else { return }
                            defer { nftnl_gen_free(gen) }
                            if nftnl_gen_nlmsg_parse(header, gen) >= 0 { generations.append(nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID))) }
                        }
                    } catch {
                        continue  // ENOBUFS: commits were missed; later ones are still recorded
                    }
                    if !generations.isEmpty { commits.withLock { $0 += generations.map { ($0, now, wall) } } }
                }
            } catch {
                started.withLock { $0 = .failure(error) }
            }
        }
        thread.name = "settle-nft-commits"
        thread.start()
        while true {
            switch started.withLock({ $0 }) {
            case .success?: return
            case .failure(let error)?: throw error
            case nil: usleep(1000)
            }
        }
    }

    deinit { stopped.store(true, ordering: .relaxed) }

    /// Stops the watching thread.
    public func stop() { stopped.store(true, ordering: .relaxed) }

    /// The wall-clock time of the first commit seen at or after `instant` (to compare with times
    /// other processes report, such as an ack's `convergedAt`).
    public func firstCommitWallTime(after instant: ContinuousClock.Instant) -> Date? {
        commits.withLock { list in list.first { $0.at >= instant }?.wall }
    }

    /// The first commit seen at or after `instant`, if any.
    public func firstCommit(after instant: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        commits.withLock { list in list.first { $0.at >= instant }?.at }
    }
}
#endif
