import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SettleAPIServer
import SettleAcks
import SettleAggregation
import SettleKube
import Testing

/// `settle aggregator` as the Deployment runs it: flags, and SIGTERM with a wait in flight.
@Suite(.serialized)
struct AggregatorCommandTests {
    @Test("--help explains the API, the unknown-node policy and SIGTERM")
    func help() async throws {
        let result = try await SettleProcess.run(["aggregator", "--help"])
        #expect(result.status == 0)
        for word in ["/v1/endpoints/{ip}", "--unknown-nodes", "block", "--agent", "--max-waiters", "SIGTERM"] {
            #expect(result.stdout.contains(word), "help lacks \(word)")
        }
    }

    @Test("bad flags are usage errors that say what is wrong")
    func usageErrors() async throws {
        let bad = try await SettleProcess.run(["aggregator", "--server", "http://127.0.0.1:1", "--agent", "node-a"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--agent must be NODE=URL"))
        let twice = try await SettleProcess.run([
            "aggregator", "--server", "http://127.0.0.1:1", "--agent", "a=http://x:1", "--agent", "a=http://y:1",
        ])
        #expect(twice.status == 64)
        #expect(twice.stderr.contains("names node a twice"))
    }

    /// SIGTERM answers the open waits as they stand, at once, then exits 0: a rolling update of
    /// the aggregator does not leave preStop hooks hanging until their deadline. (Before, the
    /// HTTP server stopped first and waited for the waits to reach their deadline.)
    @Test("SIGTERM answers open waits at once and exits 0")
    func sigtermAnswersOpenWaits() async throws {
        var logger = Logger(label: "settle.test.apiserver")
        logger.logLevel = .critical
        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(1)), logger: logger)
        _ = try await server.state.create(ToolsEndToEndTests.slice(terminating: false))
        let serverTask = Task { try await server.run() }
        defer { serverTask.cancel() }
        let apiPort = try await server.waitForPort()
        let agent = try await StandInAgent.start(node: "node-a", server: server)
        defer { agent.stop() }
        let aggregator = try SettleProcess([
            "aggregator", "--server", "http://127.0.0.1:\(apiPort)", "--agent", "node-a=http://127.0.0.1:\(agent.port)",
            "--no-node-watch", "--listen", "127.0.0.1:0",
        ])
        defer { aggregator.terminate() }
        let line = try await aggregator.waitForLine(containing: "\"aggregator HTTP listening\"")
        let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        let port = try #require(entry?["port"].flatMap { Int($0) }, "\(line)")

        // Ready first (a wait before the first lists gets 503 and never opens).
        try await waitFor(port: port, path: "/readyz", containing: "\"ready\":true", what: "the aggregator to be ready")
        // The endpoint is ready: a drain wait stays open.
        let url = "http://127.0.0.1:\(port)/v1/endpoints/10.244.1.7?for=drained&wait=60s"
        let waiter = Task { () -> (Int, String) in
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(120))
            return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        do {
            try await waitForOpenWait(port: port)
        } catch {
            waiter.cancel()
            let early = try? await waiter.value
            throw TestFailure("\(error); the waiter got: \(String(describing: early))")
        }
        let signalled = ContinuousClock.now
        aggregator.terminate()
        let (status, body) = try await waiter.value
        #expect(ContinuousClock.now - signalled < .seconds(20), "the wait was answered only at its deadline")
        #expect(status == 200)
        let answer = try AckWire.decoder.decode(WaitAnswer.self, from: Data(body.utf8))
        #expect(!answer.done)
        #expect(answer.pending.first?.reason == .endpoint)
        let result = try await aggregator.finish(timeout: .seconds(30))
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("\"stopped\""))
    }

    private func waitForOpenWait(port: Int) async throws {
        try await waitFor(port: port, path: "/metrics", containing: "settle_aggregator_waiters 1", what: "the wait to open")
    }

    private func waitFor(port: Int, path: String, containing text: String, what: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var last = "no answer"
        while ContinuousClock.now < deadline {
            if let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(5)),
                let body = try? await response.body.collect(upTo: 1 << 20)
            {
                let full = String(buffer: body)
                if full.contains(text) { return }
                last = "\(response.status.code) \(full.prefix(300))"
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("timed out waiting for \(what); last \(path): \(last)")
    }
}
