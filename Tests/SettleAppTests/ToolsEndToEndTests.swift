import Foundation
import Hummingbird
import Logging
import NIOCore
import SettleAPIServer
import SettleAcks
import SettleKube
import SettleModel
import Synchronization
import Testing

/// `settle wait` and `settle status` against the real `settle aggregator` binary, reading a
/// stand-in API server and one stand-in agent: the answer types, paths and statuses as the
/// aggregator really serves them, not only as the scripted server imitates them. The agent has
/// no acks and reports its EndpointSlice watch at the slice's current version, so the node counts
/// as done for an endpoint once it has seen the slice change (its dataplane is not simulated).
@Suite(.serialized)
struct ToolsEndToEndTests {
    /// The stand-in API server with `shop/web` and its slice listing 10.244.1.7 (ready), and
    /// `settle aggregator` reading it; `body` gets the aggregator's URL and the API server.
    static func withAggregator(_ body: (String, APIServer) async throws -> Void) async throws {
        var logger = Logger(label: "settle.test.apiserver")
        logger.logLevel = .critical
        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(1)), logger: logger)
        _ = try await server.state.create(
            V1Service(
                metadata: ObjectMeta(name: "web", namespace: "shop", uid: "uid-svc-web"),
                spec: .init(
                    type: .clusterIP, clusterIP: "172.30.0.10", clusterIPs: ["172.30.0.10"], ipFamilies: ["IPv4"],
                    ports: [.init(name: "http", port: 80)])))
        _ = try await server.state.create(slice(terminating: false))
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
        try await body("http://127.0.0.1:\(port)", server)
        aggregator.terminate()
        _ = try await aggregator.finish(timeout: .seconds(30))
    }

    static func slice(terminating: Bool) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(name: "web-1", namespace: "shop", uid: "uid-web-1", labels: [V1EndpointSlice.serviceNameLabel: "web"]),
            addressType: .ipv4,
            endpoints: [
                .init(
                    addresses: ["10.244.1.7"], conditions: .init(ready: !terminating, serving: true, terminating: terminating),
                    targetRef: ObjectReference(kind: "Pod", namespace: "shop", name: "web-7d9f"))
            ],
            ports: [.init(name: "http", protocol: .tcp, port: 8080)])
    }

    @Test("the preStop flow's slice side: not drained while the slice lists the pod ready, done once it is terminating")
    func drainsWhenTerminating() async throws {
        try await Self.withAggregator { url, server in
            // Ready in the aggregator's own view: not drained (the wait also rides out the aggregator's start, 503).
            let ready = try await SettleProcess.run(["wait", "--pod", "shop/web-7d9f", "--aggregator", url, "--timeout", "3s"])
            #expect(ready.status == 1, "\(ready.stdout) \(ready.stderr)")
            #expect(ready.stdout.hasPrefix("timeout: pod shop/web-7d9f not drained after "), "\(ready.stdout)")

            let waiting = try SettleProcess(["wait", "--ip", "10.244.1.7", "--aggregator", url, "--timeout", "30s"])
            try await Task.sleep(for: .milliseconds(1500))
            #expect(waiting.isRunning, "done while the slice still lists the endpoint ready: \(waiting.stdout)")
            var slice = try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1")
            slice.endpoints = Self.slice(terminating: true).endpoints
            _ = try await server.state.update(slice)
            let result = try await waiting.finish()
            #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
            #expect(result.stdout.hasPrefix("done: 10.244.1.7 drained after "), "\(result.stdout)")
        }
    }

    @Test("an IP no slice lists: 404 from the real aggregator, drained (exit 0); programmed keeps asking (exit 1)")
    func unknownIP() async throws {
        try await Self.withAggregator { url, _ in
            let drained = try await SettleProcess.run(["wait", "--ip", "10.244.9.9", "--aggregator", url, "--timeout", "10s"])
            #expect(drained.status == 0, "\(drained.stdout) \(drained.stderr)")
            #expect(drained.stdout.hasPrefix("done: 10.244.9.9 is not an endpoint the aggregator knows"), "\(drained.stdout)")
            let programmed = try await SettleProcess.run(
                ["wait", "--ip", "10.244.9.9", "--for", "programmed", "--aggregator", url, "--timeout", "2s"])
            #expect(programmed.status == 1, "\(programmed.stdout) \(programmed.stderr)")
        }
    }

    @Test("settle status and --format json read the real /v1/nodes")
    func status() async throws {
        try await Self.withAggregator { url, _ in
            // The aggregator listens before its stream to the agent is up: ask until node-a is heard
            // (on a loaded machine that takes a moment).
            var table = try await SettleProcess.run(["status", "--aggregator", url])
            let deadline = ContinuousClock.now + .seconds(30)
            while !(table.stdout.split(separator: "\n").first { $0.hasPrefix("node-a") } ?? "").contains("healthy"),
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(100))
                table = try await SettleProcess.run(["status", "--aggregator", url])
            }
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains("NODE") && table.stdout.contains("REASON"), "\(table.stdout)")
            let nodeA = table.stdout.split(separator: "\n").first { $0.hasPrefix("node-a") } ?? ""
            #expect(nodeA.contains("healthy") && nodeA.contains("nftables"), "\(table.stdout)")
            let service = try await SettleProcess.run(["status", "--aggregator", url, "--service", "shop/web"])
            #expect(service.status == 0, "\(service.stderr)")
            #expect(service.stdout.hasPrefix("shop/web: "), "\(service.stdout)")
            #expect(service.stdout.split(separator: "\n").contains { $0.hasPrefix("node-a") }, "\(service.stdout)")
            let json = try await SettleProcess.run(["status", "--aggregator", url, "--format", "json"])
            #expect(json.status == 0, "\(json.stderr)")
            #expect(json.stdout.contains("\"counts\""), "\(json.stdout)")
        }
    }
}

/// An agent's `/v1/acks` with nothing in transition: a snapshot, then a heartbeat every 200 ms
/// carrying the slice's current resourceVersion as the agent's watch position.
final class StandInAgent: Sendable {
    let port: Int
    private let task: Task<Void, any Error>

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    static func start(node: String, server: APIServer) async throws -> StandInAgent {
        let watch: @Sendable () async -> String? = {
            try? await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1").metadata.resourceVersion
        }
        let (port, task) = try await StandInAckStream.serve(node: node, epoch: "00000000000000e2", watch: watch)
        return StandInAgent(port: port, task: task)
    }

    func stop() { task.cancel() }
}
