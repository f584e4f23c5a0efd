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
    /// ``updates()`` for an agent that knows the Services: `names` gives their frontends (`nil`
    /// before the first Service list). Dataplanes that carry no Service names (IPVS) name what
    /// they route from it at every read; the others ignore it.
    func updates(names: @escaping @Sendable () async -> IPVSServiceNames?) -> AsyncThrowingStream<RoutedUpdate, any Error>
}

extension DataplaneFollower {
    public func updates(names: @escaping @Sendable () async -> IPVSServiceNames?) -> AsyncThrowingStream<RoutedUpdate, any Error> {
        updates()
    }
}

/// Follows kube-proxy's IPVS table by polling it (IPVS sends no change events). With the agent's
/// Services (``updates(names:)``) the first read waits for the first Service list, so virtual
/// servers are named from the start; each later read names them with the Services of that
/// moment, so a Service that appears or changes renames its virtual servers at the next poll.
public struct IPVSFollower: DataplaneFollower {
    public let netns: String?
    public let interval: Duration
    public var mode: DataplaneMode { .ipvs }

    public init(netns: String?, interval: Duration) {
        self.netns = netns
        self.interval = interval
    }

    public func updates() -> AsyncThrowingStream<RoutedUpdate, any Error> {
        PollingFollower(reader: IPVSReader(netns: netns), interval: interval).updates()
    }

    public func updates(names: @escaping @Sendable () async -> IPVSServiceNames?) -> AsyncThrowingStream<RoutedUpdate, any Error> {
        PollingFollower(reader: IPVSReader(netns: netns, names: names), interval: interval, startWhen: { await names() != nil })
            .updates()
    }
}

/// Follows a dataplane without change events (iptables, IPVS) by reading it every `interval`.
/// Each read after the first is diffed against the previous one, so the agent re-evaluates only
/// what changed.
public struct PollingFollower: DataplaneFollower {
    public let reader: any DataplaneReader
    public let interval: Duration
    /// Checked (every 20 ms) before the first read until it holds; `nil`: read at once.
    public let startWhen: (@Sendable () async -> Bool)?
    public var mode: DataplaneMode { reader.mode }

    public init(reader: any DataplaneReader, interval: Duration, startWhen: (@Sendable () async -> Bool)? = nil) {
        self.reader = reader
        self.interval = interval
        self.startWhen = startWhen
    }

    public func updates() -> AsyncThrowingStream<RoutedUpdate, any Error> {
        let reader = reader
        let interval = interval
        let startWhen = startWhen
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: RoutedUpdate.self, throwing: (any Error).self)
        let task = Task {
                if let startWhen {
                    while !Task.isCancelled, await !startWhen() { try? await Task.sleep(for: .milliseconds(20)) }
                }
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
