public import Logging
public import ServiceLifecycle
public import SettleKubeClient
import UnixSignals

/// The agent as a set of services: the ``NodeAgent`` and its ``AgentHTTPServer``, sharing one
/// ``AckHub`` and one ``AgentMetrics``. `settle agent` runs it in a `ServiceGroup` that turns
/// SIGTERM/SIGINT into a graceful shutdown; tests run it in a task and cancel it.
public struct AgentRuntime: Sendable {
    public let agent: NodeAgent
    public let http: AgentHTTPServer
    public let hub: AckHub
    public let metrics: AgentMetrics

    public init(
        configuration: AgentConfiguration, http: AgentHTTPServer.Configuration, client: KubeClient,
        follower: any DataplaneFollower, version: String = "dev", logger: Logger
    ) {
        let hub = AckHub(node: configuration.nodeName)
        let metrics = AgentMetrics(version: version)
        let agent = NodeAgent(
            configuration: configuration, client: client, follower: follower, sink: AgentOutputs(hub: hub, metrics: metrics),
            logger: logger)
        self.agent = agent
        self.hub = hub
        self.metrics = metrics
        var httpLogger = logger
        httpLogger[metadataKey: "component"] = "http"
        let authenticator = configuration.streamAuthentication.map { StreamAuthenticator(configuration: $0, reviewer: client) }
        self.http = AgentHTTPServer(
            configuration: http, provider: agent, hub: hub, metrics: metrics, authenticator: authenticator, logger: httpLogger)
    }

    /// Runs both until cancelled (or, inside a service group, until a graceful shutdown).
    /// Stopping ends every ack stream, so no reader holds the shutdown up.
    public func run() async throws {
        let agent = agent
        let hub = hub
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await http.run() }
            group.addTask {
                try await cancelWhenGracefulShutdown { try await agent.run() }
            }
            defer { hub.close() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Runs the agent and its HTTP server as two services of one group that turns SIGTERM and
    /// SIGINT into a graceful shutdown of both (the server ends its ack streams and stops
    /// listening); either ending ends the other. Returns when stopped.
    public func runUntilSignalled(logger: Logger) async throws {
        defer { hub.close() }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: AgentService(agent: agent), successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: http, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// ``NodeAgent`` as a `Service`: runs until a graceful shutdown.
struct AgentService: Service {
    let agent: NodeAgent
    func run() async throws {
        try await cancelWhenGracefulShutdown { try await agent.run() }
    }
}
