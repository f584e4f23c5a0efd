public import Logging
public import ServiceLifecycle
public import SettleKubeClient
import UnixSignals

/// The aggregator as services: the ``Aggregator`` and its ``AggregatorHTTPServer``. `settle
/// aggregator` runs them in a `ServiceGroup` that turns SIGTERM/SIGINT into a graceful shutdown;
/// tests run ``run()`` in a task and cancel it.
public struct AggregatorRuntime: Sendable {
    public let aggregator: Aggregator
    public let http: AggregatorHTTPServer

    public init(
        configuration: AggregatorConfiguration, http: AggregatorHTTPServer.Configuration, client: KubeClient,
        version: String = "dev", logger: Logger
    ) {
        let aggregator = Aggregator(
            configuration: configuration, client: client, metrics: AggregatorMetrics(version: version), logger: logger)
        self.aggregator = aggregator
        var httpLogger = logger
        httpLogger[metadataKey: "component"] = "http"
        self.http = AggregatorHTTPServer(configuration: http, aggregator: aggregator, logger: httpLogger)
    }

    /// Runs both until cancelled.
    public func run() async throws {
        let aggregator = aggregator
        let http = http
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await http.run() }
            group.addTask { try await aggregator.run() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Runs both as services of one group that turns SIGTERM and SIGINT into a graceful shutdown:
    /// open waits are answered (as they stand) and the server stops. Returns when stopped.
    public func runUntilSignalled(logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                // A group shuts its services down in reverse order: the aggregator first, which
                // answers every open wait, then the HTTP server, which sends those answers and stops.
                services: [
                    .init(service: http, successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: AggregatorService(aggregator: aggregator), successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// ``Aggregator`` as a `Service`: runs until a graceful shutdown.
struct AggregatorService: Service {
    let aggregator: Aggregator
    func run() async throws {
        try await cancelWhenGracefulShutdown { try await aggregator.run() }
    }
}
