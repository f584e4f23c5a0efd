import SettleAPIServer
import SettleAggregator
import SettleKubeClient

extension AgentHarness {
    /// Runs the real aggregator next to this harness's agent (its one static agent, no Node watch,
    /// quick ticks and reconnects); `body` gets the aggregator's HTTP port. The aggregator and its
    /// API client are stopped on every path.
    func withAggregator(
        configure: (inout AggregatorConfiguration) -> Void = { _ in }, _ body: (Int) async throws -> Void
    ) async throws {
        let client = try KubeClient(
            configuration: KubeClientConfiguration(server: "http://127.0.0.1:\(try await server.waitForPort())"), logger: Self.quietLogger)
        var configuration = AggregatorConfiguration(
            staticAgents: [WebCluster.node: "http://127.0.0.1:\(httpPort)"], watchNodes: false,
            tickInterval: .milliseconds(50), reconnectInitial: .milliseconds(50))
        configure(&configuration)
        let runtime = AggregatorRuntime(
            configuration: configuration, http: .init(host: "127.0.0.1", port: 0), client: client, logger: Self.quietLogger)
        let task = Task { try await runtime.run() }
        do {
            try await body(try await runtime.http.waitForPort())
        } catch {
            task.cancel()
            _ = try? await task.value
            try? await client.shutdown()
            throw error
        }
        task.cancel()
        _ = try? await task.value
        try await client.shutdown()
    }
}
