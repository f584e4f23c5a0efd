import Foundation
import SettleAcks
import SettleAggregation
import Testing

/// `settle status` and the `kubectl-settle` plugin (the same binary under another name).
@Suite(.serialized)
struct StatusCommandTests {
    /// A `kubectl-settle` symlink to the built binary, in a fresh directory.
    static func plugin() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-plugin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let link = directory.appendingPathComponent("kubectl-settle").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: try CLITests.binary)
        return link
    }

    static func cleanUp(_ link: String) {
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: link).deletingLastPathComponent().path)
    }

    @Test("kubectl-settle status (via a symlink) prints the node table from /v1/nodes")
    func pluginTable() async throws {
        let server = try await ScriptedAggregator.start { _ in .nodes(Answers.nodesAnswer) }
        defer { Task { await server.stop() } }
        let link = try Self.plugin()
        defer { Self.cleanUp(link) }
        let result = try await SettleProcess.run(["status", "--aggregator", server.url], executable: link)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(result.stdout)")
        guard lines.count == 5 else { return }
        #expect(lines[0] == "3 nodes: 1 healthy, 1 unknown, 1 excluded; unknown nodes block waits; EndpointSlices at resourceVersion 1288311")
        let cells = lines.map { $0.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) } }
        #expect(cells[1] == ["NODE", "STATUS", "MODE", "CONNECTED", "LAG", "NOT CONVERGED", "REASON"])
        #expect(cells[2] == ["node-a", "healthy", "nftables", "yes", "1.2s", "1", "-"])
        #expect(cells[3] == ["node-b", "unknown", "iptables", "no", "-", "0", "disconnected: connection refused"])
        #expect(cells[4] == ["node-c", "excluded", "-", "no", "-", "0", "noAgent: no agent on the node"])
        #expect(server.requests.map(\.path) == ["/v1/nodes"])
    }

    /// From a laptop, `kubectl settle` needs no port-forward: it asks through the API server.
    @Test("kubectl-settle without --aggregator goes through the API server's service proxy with the kubeconfig's token")
    func pluginThroughAPIServer() async throws {
        let server = try await ScriptedAggregator.start { request in
            request.path.hasSuffix("/v1/nodes") ? .nodes(Answers.nodesAnswer) : .answer(Answers.wait(done: true))
        }
        defer { Task { await server.stop() } }
        let link = try Self.plugin()
        defer { Self.cleanUp(link) }
        let kubeconfig = URL(fileURLWithPath: link).deletingLastPathComponent().appendingPathComponent("kubeconfig").path
        try """
            apiVersion: v1
            kind: Config
            clusters:
              - name: lab
                cluster: {server: "\(server.url)"}
            users:
              - name: admin
                user: {token: t0ken}
            contexts:
              - name: lab
                context: {cluster: lab, user: admin}
            current-context: lab
            """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        let status = try await SettleProcess.run(["status"], executable: link, environment: ["KUBECONFIG": kubeconfig])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("node-b  unknown"), "\(status.stdout)")
        let wait = try await SettleProcess.run(["wait", "--ip", "10.244.1.7"], executable: link, environment: ["KUBECONFIG": kubeconfig])
        #expect(wait.status == 0, "\(wait.stderr)")
        let proxy = "/api/v1/namespaces/settle-system/services/settle-aggregator:9468/proxy"
        #expect(server.requests.map(\.path) == ["\(proxy)/v1/nodes", "\(proxy)/v1/endpoints/10.244.1.7"])
        #expect(server.requests.allSatisfy { $0.authorization == "Bearer t0ken" })
        // Plain `settle` keeps the in-cluster default; no kubeconfig at all is one clear error.
        let none = try await SettleProcess.run(["status", "--timeout", "1s"], executable: link, environment: ["HOME": "/nonexistent"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("through the API server"), "\(none.stderr)")
    }

    @Test("status --format json prints the aggregator's answer, times as RFC 3339")
    func json() async throws {
        let server = try await ScriptedAggregator.start { _ in .nodes(Answers.nodesAnswer) }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["status", "--format", "json"], environment: ["SETTLE_AGGREGATOR": server.url])
        #expect(result.status == 0, "\(result.stderr)")
        let answer = try AckWire.decoder.decode(NodesAnswer.self, from: Data(result.stdout.utf8))
        #expect(answer.nodes.map(\.node) == ["node-a", "node-b", "node-c"])
        #expect(answer.counts == Answers.nodesAnswer.counts)
        #expect(result.stdout.contains("\"lastMessage\" : \"20"), "\(result.stdout)")
    }

    @Test("status --service NS/NAME prints the Service's convergence per node from /v1/services/{ns}/{name}")
    func service() async throws {
        let server = try await ScriptedAggregator.start { _ in .service(Answers.serviceAnswer) }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["status", "--service", "shop/web", "--aggregator", server.url])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "shop/web: not converged on 1 of 2 nodes", "\(result.stdout)")
        let cells = lines.map { $0.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) } }
        #expect(cells.count == 4, "\(result.stdout)")
        if cells.count == 4 {
            #expect(cells[1] == ["NODE", "STATUS", "LAG", "NOT CONVERGED", "REASON"])
            #expect(cells[2] == ["node-a", "converged", "-", "-", "-"])
            #expect(cells[3] == ["node-b", "pending", "3.5s", "1: 10.244.1.7:8080/TCP stale (terminating)", "stale"])
        }
        #expect(server.requests.map(\.path) == ["/v1/services/shop/web"])
        let usage = try await SettleProcess.run(["status", "--service", "web"])
        #expect(usage.status == 64 && usage.stderr.contains("--service must be NAMESPACE/NAME"), "\(usage.stderr)")
    }

    @Test("status with the aggregator unreachable: exit 2, one error line")
    func unreachable() async throws {
        let port = try WaitCommandTests.closedPort()
        let result = try await SettleProcess.run(["status", "--aggregator", "http://127.0.0.1:\(port)"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "error: aggregator at http://127.0.0.1:\(port): connection refused\n", "\(result.stderr)")
    }

    @Test("kubectl settle wait is settle wait: same answers, usage errors exit 2; --help lists both commands")
    func pluginWait() async throws {
        let server = try await ScriptedAggregator.start { _ in .answer(Answers.wait(done: true)) }
        defer { Task { await server.stop() } }
        let link = try Self.plugin()
        defer { Self.cleanUp(link) }
        let done = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", server.url], executable: link)
        #expect(done.status == 0, "\(done.stderr)")
        #expect(done.stdout.hasPrefix("done: 10.244.1.7 drained"))
        let usage = try await SettleProcess.run(["wait", "--ip", "10.244"], executable: link)
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("kubectl settle wait"), "\(usage.stderr)")
        let help = try await SettleProcess.run(["--help"], executable: link)
        #expect(help.status == 0)
        for text in ["USAGE: kubectl settle <subcommand>", "status", "wait"] {
            #expect(help.stdout.contains(text), "\(help.stdout)")
        }
    }
}
