public import SettleDataplane
import SettleDataplaneLinux
public import SettleModel

/// One change to what the node's dataplane routes, as the agent consumes it.
public enum RoutedUpdate: Sendable {
    /// A complete read: replaces everything routed. `reason` says why (`startup`, `periodic`,
    /// `overflow`, …); `duration` is the read's cost.
    case full(DataplaneSnapshot, reason: String, duration: Duration)
    /// One committed transaction: the current routing of each service port it changed, by
    /// ``SettleModel/RoutedServicePort/identity`` (`nil`: the service port left the dataplane).
    /// `receivedAt` is when the change reached the agent; `duration` the decode-and-walk cost, or
    /// the whole read's when `polled` (a full read diffed against the previous one).
    case incremental(changed: [String: RoutedServicePort?], receivedAt: ContinuousClock.Instant, duration: Duration, polled: Bool = false)
}

/// Follows one node's dataplane: a stream of ``RoutedUpdate``s, a full one first.
public protocol DataplaneFollower: Sendable {
    var mode: DataplaneMode { get }
    /// Runs until the consuming task is cancelled. Throws only when the dataplane cannot be read
    /// at all (no permission, no such namespace); transient failures are retried inside.
    func updates() -> AsyncThrowingStream<RoutedUpdate, any Error>
}

/// Follows a dataplane without change events (iptables, IPVS) by reading it every `interval`.
/// Each read after the first is diffed against the previous one, so the agent re-evaluates only
/// what changed.
public struct PollingFollower: DataplaneFollower {
    public let reader: any DataplaneReader
    public let interval: Duration
    public var mode: DataplaneMode { reader.mode }

    public init(reader: any DataplaneReader, interval: Duration) {
        self.reader = reader
        self.interval = interval
    }

    public func updates() -> AsyncThrowingStream<RoutedUpdate, any Error> {
        let reader = reader
        let interval = interval
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: RoutedUpdate.self, throwing: (any Error).self)
        let task = Task {
                var previous: [String: RoutedServicePort]?
                while !Task.isCancelled {
                    let started = ContinuousClock.now
                    do throws(DataplaneError) {
                        let snapshot = try await reader.read()
                        let duration = ContinuousClock.now - started
                        let current = Dictionary(snapshot.servicePorts.map { ($0.identity, $0) }, uniquingKeysWith: { a, _ in a })
                        if let before = previous {
                            let changed = Self.diff(before, current)
                            continuation.yield(.incremental(changed: changed, receivedAt: ContinuousClock.now, duration: duration, polled: true))
                        } else {
                            continuation.yield(.full(snapshot, reason: "startup", duration: duration))
                        }
                        previous = current
                    } catch {
                        switch error {
                        case .permissionDenied, .namespaceNotFound, .namespaceEnterFailed, .toolMissing:
                            continuation.finish(throwing: error)
                            return
                        default:
                            break  // transient (a save tool failed mid-sync): try again next round
                        }
                    }
                    try? await Task.sleep(for: interval)
                }
                continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The identities whose routing differs between two reads.
    static func diff(_ before: [String: RoutedServicePort], _ after: [String: RoutedServicePort]) -> [String: RoutedServicePort?] {
        var changed: [String: RoutedServicePort?] = [:]
        for (identity, port) in after where before[identity] != port { changed[identity] = .some(port) }
        for identity in before.keys where after[identity] == nil { changed[identity] = .some(nil) }
        return changed
    }
}
