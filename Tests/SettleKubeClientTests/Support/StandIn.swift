import Logging
import SettleAPIServer
import SettleKubeClient

/// Runs a stand-in API server on an ephemeral loopback port for the duration of `body`.
func withStandIn<R: Sendable>(
    _ configuration: APIServerConfiguration = .testing(),
    _ body: (APIServer, Int) async throws -> R
) async throws -> R {
    var logger = Logger(label: "test.apiserver")
    logger.logLevel = .critical
    let server = APIServer(configuration: configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        defer { group.cancelAll() }
        let port = try await server.waitForPort()
        return try await body(server, port)
    }
}

/// A client for the stand-in with short timeouts, so fault tests finish quickly.
func makeClient(port: Int, credentials: KubeCredentials = .none, requestTimeout: Duration = .seconds(5),
                idleTimeout: Duration = .seconds(5)) throws -> KubeClient {
    var logger = Logger(label: "test.kubeclient")
    logger.logLevel = .critical
    return try KubeClient(
        configuration: KubeClientConfiguration(
            server: "http://127.0.0.1:\(port)", credentials: credentials, requestTimeout: requestTimeout, idleTimeout: idleTimeout),
        logger: logger)
}

/// Fast backoff for tests (the behaviour, not the numbers, is under test).
let testBackoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))

/// A reflector with test-friendly settings.
func makeReflector<T>(_ type: T.Type, client: KubeClient, selection: ResourceSelection = .init(), pageSize: Int? = 500,
                      watchTimeoutSeconds: ClosedRange<Int> = 300...300) -> Reflector<T> {
    var logger = Logger(label: "test.reflector")
    logger.logLevel = .critical
    return Reflector(client: client, selection: selection, pageSize: pageSize, backoff: testBackoff,
                     watchTimeoutSeconds: watchTimeoutSeconds, logger: logger)
}

/// Polls `condition` until it holds; fails (throws) after a generous deadline instead of hanging.
func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw TimedOut(what: what)
}

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for: \(what)" }
}

/// Runs `body` with a client for the stand-in and always shuts the client down (AsyncHTTPClient requires it).
func withClient<R: Sendable>(
    port: Int, credentials: KubeCredentials = .none, requestTimeout: Duration = .seconds(5), idleTimeout: Duration = .seconds(5),
    _ body: (KubeClient) async throws -> R
) async throws -> R {
    let client = try makeClient(port: port, credentials: credentials, requestTimeout: requestTimeout, idleTimeout: idleTimeout)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

extension APIServerConfiguration {
    /// The default resources plus the test-only kinds.
    static func testing(bookmarkInterval: Duration = .seconds(60), goneMode: APIServerState.GoneMode = .errorEvent,
                        acceptedBearerTokens: Set<String>? = nil) -> APIServerConfiguration {
        APIServerConfiguration(
            resources: APIResource.defaults + [APIResource(Widget.self), APIResource(Gadget.self)],
            bookmarkInterval: bookmarkInterval, goneMode: goneMode, acceptedBearerTokens: acceptedBearerTokens, hangLimit: .seconds(30))
    }
}
