public import Logging
import SettleDataplane
import SettleDataplaneLinux
public import SettleModel

/// Follows kube-proxy's nftables tables through netlink change events (``SettleDataplaneLinux/NFTablesMonitor``):
/// a full read first, then one incremental update per committed transaction, and a full read again
/// periodically, when events were lost (ENOBUFS) or when a transaction could not be applied.
public struct NFTablesFollower: DataplaneFollower {
    public let monitor: NFTablesMonitor
    public var mode: DataplaneMode { .nftables }

    public init(netns: String?, receiveBufferBytes: Int, resyncInterval: Duration, logger: Logger) {
        self.monitor = NFTablesMonitor(
            netns: netns, receiveBufferBytes: receiveBufferBytes, resyncInterval: resyncInterval, logger: logger)
    }

    public func updates() -> AsyncThrowingStream<RoutedUpdate, any Error> {
        let source = monitor.updates()
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: RoutedUpdate.self, throwing: (any Error).self)
        let task = Task {
            do {
                for try await update in source {
                    switch update.kind {
                    case .full(let reason):
                        var snapshot = update.snapshot ?? DataplaneSnapshot(mode: .nftables, servicePorts: [])
                        snapshot.warnings += update.warnings
                        continuation.yield(.full(snapshot, reason: Self.reason(reason), duration: update.applyDuration))
                    case .incremental:
                        continuation.yield(.incremental(changed: update.changed, receivedAt: update.receivedAt, duration: update.applyDuration))
                    }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The monitor's resync reasons in the metric's vocabulary (``AgentMetrics/ResyncReason``).
    static func reason(_ reason: NFTablesMonitorUpdate.ResyncReason) -> String {
        switch reason {
        case .initial: "startup"
        case .periodic: "periodic"
        case .overflow: "overflow"
        case .inconsistent: "error"
        }
    }
}
