import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
import Synchronization

/// The agent's read-only HTTP API (docs/agent-api.md): `/healthz`, `/readyz`, `/metrics`,
/// `/v1/acks` (the acknowledgement stream) and `/v1/state`.
///
/// A ``Service``: run it in the agent's service group, or `try await server.run()` in a task and
/// read the bound port with ``waitForPort(timeout:)`` (port 0 picks a free one). A graceful
/// shutdown (or cancelling the task) ends every open ack stream, so shutdown never waits on a reader.
public struct AgentHTTPServer: Service {
    public struct Configuration: Sendable {
        /// Address to listen on.
        public var host: String
        /// Port to listen on; 0 picks a free port (see ``AgentHTTPServer/waitForPort(timeout:)``).
        public var port: Int
        /// Open `/v1/acks` streams allowed at once; the next gets 429.
        public var maxStreamClients: Int
        /// A stream that sent nothing for this long sends a heartbeat.
        public var heartbeatInterval: Duration
        /// Longest query string accepted; longer gets 414.
        public var maxQueryBytes: Int
        /// A stream whose reader takes no data for this long (one write pending all along) is
        /// closed, so a stalled or hostile reader cannot hold a stream place forever.
        public var streamWriteTimeout: Duration

        public init(
            host: String = "0.0.0.0", port: Int = SettleAgent.defaultPort, maxStreamClients: Int = 64,
            heartbeatInterval: Duration = .seconds(5), maxQueryBytes: Int = 1024, streamWriteTimeout: Duration = .seconds(30)
        ) {
            self.host = host
            self.port = port
            self.maxStreamClients = maxStreamClients
            self.heartbeatInterval = heartbeatInterval
            self.maxQueryBytes = maxQueryBytes
            self.streamWriteTimeout = streamWriteTimeout
        }
    }

    public let configuration: Configuration
    private let provider: any AgentStateProvider
    private let hub: AckHub
    private let metrics: AgentMetrics
    private let logger: Logger
    private let runtime: Runtime
    private let authenticator: StreamAuthenticator?

    /// `authenticator`: who may read `/v1/acks` and `/v1/state` (nil: anyone who can connect).
    public init(
        configuration: Configuration = .init(), provider: any AgentStateProvider, hub: AckHub, metrics: AgentMetrics,
        authenticator: StreamAuthenticator? = nil, logger: Logger = Logger(label: "settle.agent.http")
    ) {
        self.authenticator = authenticator
        self.configuration = configuration
        self.provider = provider
        self.hub = hub
        self.metrics = metrics
        self.logger = logger
        self.runtime = Runtime()
    }

    /// Serves until the task is cancelled or a graceful shutdown is triggered.
    public func run() async throws {
        let runtime = self.runtime
        let logger = self.logger
        let responder = AgentHTTPResponder(
            configuration: configuration, provider: provider, hub: hub, metrics: metrics,
            streams: StreamLimiter(limit: configuration.maxStreamClients, metrics: metrics),
            stop: runtime.stop, authenticator: authenticator)
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port
                runtime.setPort(port)
                logger.info("agent HTTP listening", metadata: ["port": "\(port.map(String.init) ?? "?")"])
            },
            logger: logger
        )
        defer { runtime.stop.fire() }
        try await withGracefulShutdownHandler {
            try await app.run()
        } onGracefulShutdown: {
            runtime.stop.fire()
        }
    }

    /// The bound port, once the server listens.
    public var port: Int? { runtime.port }

    /// The bound port; throws ``AgentHTTPError/notListening`` when the server is not up after `timeout`.
    public func waitForPort(timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let port = runtime.port { return port }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw AgentHTTPError.notListening
    }

    /// State shared by the running server and this value's copies.
    private final class Runtime: Sendable {
        private let boundPort = Mutex<Int?>(nil)
        /// Fired when the server stops: open streams end.
        let stop = StopSignal()

        var port: Int? { boundPort.withLock { $0 } }
        func setPort(_ port: Int?) { boundPort.withLock { $0 = port } }
    }
}

/// Why the agent's HTTP server could not be used.
public enum AgentHTTPError: Error, Hashable, Sendable, CustomStringConvertible {
    case notListening

    public var description: String {
        switch self {
        case .notListening: "the agent's HTTP server is not listening; check the address and that the port is free"
        }
    }
}

/// Counts open ack streams against the configured cap and keeps the clients gauge current.
final class StreamLimiter: Sendable {
    let limit: Int
    private let metrics: AgentMetrics
    private let open = Mutex(0)

    init(limit: Int, metrics: AgentMetrics) {
        self.limit = limit
        self.metrics = metrics
    }

    var count: Int { open.withLock { $0 } }

    /// A slot for one stream, or `nil` when `limit` streams are open. The slot frees itself when
    /// released (its last reference goes away), whether or not the response body ever ran.
    func acquire() -> StreamSlot? {
        let count = open.withLock { open -> Int? in
            guard open < limit else { return nil }
            open += 1
            return open
        }
        guard let count else { return nil }
        metrics.setStreamClients(count)
        return StreamSlot(limiter: self)
    }

    fileprivate func release() {
        let count = open.withLock { open -> Int in
            open -= 1
            return open
        }
        metrics.setStreamClients(count)
    }
}

/// One open stream's place under the cap.
final class StreamSlot: Sendable {
    private let limiter: StreamLimiter

    fileprivate init(limiter: StreamLimiter) { self.limiter = limiter }

    deinit { limiter.release() }
}
