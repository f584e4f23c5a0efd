import Hummingbird
import Logging
import NIOCore
public import ServiceLifecycle

/// A protocol-faithful stand-in for the Kubernetes API server: list, watch, bookmarks, 410s, discovery.
///
/// Real HTTP on a loopback port, so the production client, `kubectl` and the official Python client all
/// run against it unchanged. Tests drive objects and faults through ``state``; `settle lab` hosts it as
/// a ``Service``. Start it with `try await server.run()` in a task and read the port with
/// ``waitForPort(timeout:)``; cancel the task to stop it.
public struct APIServer: Service {
    /// The settings the server was started with.
    public let configuration: APIServerConfiguration
    /// Objects, faults, auth and the request log; safe to use while the server runs.
    public let state: APIServerState
    private let logger: Logger

    /// Creates a server; nothing listens until ``run()``.
    public init(configuration: APIServerConfiguration = .init(), logger: Logger = Logger(label: "settle.apiserver")) {
        self.configuration = configuration
        self.state = APIServerState(configuration: configuration)
        self.logger = logger
    }

    /// Serves until the task is cancelled or a graceful shutdown is triggered.
    public func run() async throws {
        let state = self.state
        let app = Application(
            responder: APIServerResponder(state: state),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                await state.setListeningPort(channel.localAddress?.port)
            },
            logger: logger
        )
        do {
            try await app.run()
        } catch {
            await state.releaseHangs()
            await state.closeAllWatches()
            throw error
        }
        await state.releaseHangs()
        await state.closeAllWatches()
    }

    /// The listening port, once the server is up; throws ``APIServerError/notListening`` after `timeout`.
    public func waitForPort(timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let port = await state.port { return port }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw APIServerError.notListening
    }
}
