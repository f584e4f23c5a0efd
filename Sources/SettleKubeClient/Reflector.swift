import AsyncHTTPClient
public import Logging
public import SettleKube

/// Keeps a consumer in step with one kind of object: LIST, then WATCH from the list's resourceVersion,
/// resuming from the last RV seen (events or bookmarks) whenever a watch ends or breaks.
///
/// Mirrors client-go's reflector: `410 Gone` (HTTP or an `ERROR` event) means the RV left the server's
/// window, so it relists and hands over a full snapshot; any other failure (HTTP errors, 5xx, broken or
/// truncated streams, hung servers) is logged, counted and retried with exponential backoff and jitter.
/// Never throws; ``run(_:)`` returns when its task is cancelled.
public struct Reflector<T: KubeObject>: Sendable {
    /// The client every LIST and WATCH goes through.
    public let client: KubeClient
    /// Which objects to list and watch.
    public let selection: ResourceSelection
    /// LIST page size; nil lists in one request.
    public var pageSize: Int?
    /// Delay policy between failed attempts.
    public var backoff: Backoff
    /// Server-side watch timeout, chosen at random in this range per watch (client-go uses 5–10 minutes) so
    /// that many clients do not reconnect together.
    public var watchTimeoutSeconds: ClosedRange<Int>
    /// What happened so far (lists, relists, failures, ...); readable while running.
    public let counters: ReflectorCounters
    private let logger: Logger

    /// A reflector for `client`; nothing happens until ``run(_:)``.
    public init(
        client: KubeClient, selection: ResourceSelection = .init(), pageSize: Int? = 500, backoff: Backoff = .init(),
        watchTimeoutSeconds: ClosedRange<Int> = 300...600, counters: ReflectorCounters = .init(),
        logger: Logger = Logger(label: "settle.reflector")
    ) {
        self.client = client
        self.selection = selection
        self.pageSize = pageSize
        self.backoff = backoff
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.counters = counters
        var logger = logger
        logger[metadataKey: "resource"] = "\(T.resource)"
        self.logger = logger
    }

    /// Lists and watches until the task is cancelled, calling `onEvent` for each snapshot and change, in order.
    public func run(_ onEvent: (ReflectorEvent<T>) async -> Void) async {
        var resourceVersion: String?
        var backoff = self.backoff
        var goneWithoutProgress = 0
        while !Task.isCancelled {
            do {
                if resourceVersion == nil {
                    let list = try await listSnapshot()
                    counters.update {
                        $0.lists += 1
                        $0.lastResourceVersion = list.resourceVersion
                    }
                    logger.debug("listed", metadata: ["count": "\(list.items.count)", "resourceVersion": "\(list.resourceVersion)"])
                    await onEvent(.replaced(list.items, resourceVersion: list.resourceVersion))
                    resourceVersion = list.resourceVersion
                }
                let received = try await watchOnce(from: &resourceVersion, onEvent)
                counters.update { $0.watchesEnded += 1 }
                if received > 0 {
                    backoff.reset()
                    goneWithoutProgress = 0
                } else {
                    // An empty watch that ended at once must not turn into a hot reconnect loop.
                    try await Task.sleep(for: backoff.next())
                }
            } catch KubeClientError.gone(let status) {
                counters.update { $0.goneRelists += 1 }
                logger.info("resourceVersion expired; relisting", metadata: ["message": "\(status?.message ?? "410 Gone")"])
                resourceVersion = nil
                goneWithoutProgress += 1
                if goneWithoutProgress > 1 { try? await Task.sleep(for: backoff.next()) }
            } catch {
                if Task.isCancelled { return }
                let delay = backoff.next()
                counters.update { stats in
                    stats.failures += 1
                    if Self.isTimeout(error) { stats.timeouts += 1 }
                    if case KubeClientError.truncatedStream = error { stats.truncatedStreams += 1 }
                }
                logger.warning(
                    "list/watch failed; retrying",
                    metadata: ["error": "\(error)", "retryIn": "\(delay)", "resourceVersion": "\(resourceVersion ?? "none")"])
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// Runs one watch; returns how many events (bookmarks included) arrived before it ended cleanly.
    private func watchOnce(from resourceVersion: inout String?, _ onEvent: (ReflectorEvent<T>) async -> Void) async throws -> Int {
        let counters = self.counters
        let logger = self.logger
        let stream = try await client.watch(
            T.self, selection: selection, resourceVersion: resourceVersion,
            timeoutSeconds: Int.random(in: watchTimeoutSeconds),
            onSkippedLine: { error in
                counters.update { $0.skippedLines += 1 }
                logger.warning("skipped undecodable watch line", metadata: ["error": "\(error)"])
            })
        counters.update { $0.watchesStarted += 1 }
        var received = 0
        for try await event in stream {
            received += 1
            if let next = event.resourceVersion {
                resourceVersion = next
                counters.update { $0.lastResourceVersion = next }
            }
            switch event {
            case .added(let object):
                counters.update { $0.events += 1 }
                await onEvent(.added(object))
            case .modified(let object):
                counters.update { $0.events += 1 }
                await onEvent(.modified(object))
            case .deleted(let object):
                counters.update { $0.events += 1 }
                await onEvent(.deleted(object))
            case .bookmark(let next):
                counters.update { $0.bookmarks += 1 }
                await onEvent(.bookmark(resourceVersion: next))
            case .error(let status):
                if status.isGone { throw KubeClientError.gone(status) }
                throw KubeClientError.watchError(status)
            }
        }
        return received
    }

    /// A full snapshot. If a continue token expires mid-way (410), the list restarts once without paging.
    private func listSnapshot() async throws -> ObjectList<T> {
        do {
            return try await client.listAll(T.self, selection: selection, pageSize: pageSize)
        } catch KubeClientError.gone {
            logger.info("continue token expired; listing without pagination")
            return try await client.listAll(T.self, selection: selection, pageSize: nil)
        }
    }

    static func isTimeout(_ error: any Error) -> Bool {
        guard let error = error as? HTTPClientError else { return false }
        return error == .readTimeout || error == .deadlineExceeded || error == .connectTimeout
    }
}
