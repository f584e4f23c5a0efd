import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import SettleAcks
import SettleAgent
import SettleAggregation
import SettleAggregator
import SettleConvergence
import SettleTestSupport
import Testing

/// The aggregator over real HTTP: simulated agents (the agent's own ack stream server), the
/// stand-in API server, long-poll waits.
@Suite("Aggregator over HTTP", .serialized)
struct AggregatorTests {
    typealias H = AggregatorHarness
    static let ip = "10.1.0.5"
    static let other = "10.1.0.6"

    /// The preStop flow: a drain wait opened before the pod terminates is answered only after
    /// the aggregator saw the change and every node acknowledged it from that generation, and
    /// right after the last ack.
    @Test func drainWaitIsReleasedByTheLastFreshAck() async throws {
        try await H.with([.init(ip: Self.ip), .init(ip: Self.other)], nodes: ["node-a", "node-b", "node-c"]) { cluster in
            let path = "/v1/endpoints/\(Self.ip)?for=drained&wait=20s"
            let waiter = Task { try await cluster.answer(path) }
            var now = try await cluster.answer("/v1/endpoints/\(Self.ip)")
            #expect(!now.done)
            #expect(now.endpoint.state == "ready")
            #expect(Set(now.pending.map(\.reason)) == [.endpoint])

            let (generation, version) = try await cluster.setSlice([.init(ip: Self.ip, condition: .terminating), .init(ip: Self.other)])
            try await eventually("the aggregator to see the change") {
                (try await cluster.answer("/v1/endpoints/\(Self.ip)")).endpoint.state == "terminating"
            }
            let a = try #require(cluster.agents["node-a"])
            let b = try #require(cluster.agents["node-b"])
            let c = try #require(cluster.agents["node-c"])
            a.record([H.ack(Self.ip, .stale, generation: generation)], watch: version)
            // node-b lags: kube-proxy already dropped the endpoint, its agent has not seen the change.
            b.record([H.ack(Self.ip, .drained, generation: generation - 1)], watch: String(Int(version)! - 1))
            // node-c never routed it: it only reports watch progress.
            c.hub.progress(watch: version)
            try await eventually("node-a stale, node-b behind, node-c done") {
                now = try await cluster.answer("/v1/endpoints/\(Self.ip)")
                return now.pending.map(\.node) == ["node-a", "node-b"] && now.pending.map(\.reason) == [.stale, .behind]
            }
            #expect(now.nodes.done == 1)
            #expect(now.pending[0].state == "stale")
            b.record([H.ack(Self.ip, .drained, generation: generation)], watch: version)
            try await eventually("node-b done") { (try await cluster.answer("/v1/endpoints/\(Self.ip)")).pending.map(\.node) == ["node-a"] }
            #expect(!waiter.isCancelled)

            let lastAck = ContinuousClock.now
            a.record([H.ack(Self.ip, .drained, generation: generation)], watch: version)
            let answer = try await waiter.value
            let released = ContinuousClock.now
            #expect(answer.done)
            #expect(!answer.timedOut)
            #expect(answer.nodes == NodeCounts(total: 3, counted: 3, done: 3, pending: 0, unknown: 0, excluded: 0))
            #expect(answer.summary == "drained on 3 of 3 counted nodes")
            #expect(answer.endpoint.change?.generation == generation)
            #expect(released - lastAck < .seconds(5))

            // A pod query: its IPs from the slice's targetRef.
            let pod = try await cluster.answer("/v1/pods/shop/pod-\(Self.ip)?for=drained")
            #expect(pod.done)
            #expect(pod.query.pod == "shop/pod-\(Self.ip)")
            #expect(pod.endpoint.ips == [Self.ip])
            // The other endpoint is still ready: not drained anywhere.
            let other = try await cluster.answer("/v1/endpoints/\(Self.other)?for=drained")
            #expect(!other.done)
            // Arrival question for the ready one: no node has anything to say, all passed the change.
            #expect(try await cluster.answer("/v1/endpoints/\(Self.other)?for=programmed").done)

            #expect(try await cluster.get("/v1/services/shop/nothing").status == 404)
            let service = try AckWire.decoder.decode(ServiceAnswer.self, from: Data(try await cluster.get("/v1/services/shop/web").body.utf8))
            #expect(service.converged)
            #expect(service.nodes.map(\.node) == ["node-a", "node-b", "node-c"])
            #expect(service.nodes[0].states == ["drained": 1])
        }
    }

    @Test func waitsEndAtTheirDeadlineWithTheReason() async throws {
        try await H.with([.init(ip: Self.ip, condition: .terminating)], nodes: ["node-a"]) { cluster in
            let version = try await cluster.sliceVersion()
            cluster.agents["node-a"]?.record([H.ack(Self.ip, .stale, generation: 1)], watch: version)
            try await eventually("the stale ack") { (try await cluster.answer("/v1/endpoints/\(Self.ip)")).pending.first?.reason == .stale }
            let started = ContinuousClock.now
            let answer = try await cluster.answer("/v1/endpoints/\(Self.ip)?for=drained&wait=400ms")
            #expect(ContinuousClock.now - started >= .milliseconds(400))
            #expect(!answer.done)
            #expect(answer.timedOut)
            #expect(answer.elapsedSeconds >= 0.4)
            #expect(answer.pending.first?.detail.contains("still receives new connections") == true)
            #expect(answer.summary == "waiting for 1 of 1 nodes: node-a stale")
        }
    }

    /// A broken stream makes its node `unknown` (named, blocking by default); the aggregator
    /// reconnects, resumes from its sequence and the wait completes.
    @Test func agentDisconnectAndReconnect() async throws {
        try await H.with([.init(ip: Self.ip, condition: .terminating)], nodes: ["node-a", "node-b"]) { cluster in
            let version = try await cluster.sliceVersion()
            cluster.agents["node-a"]?.record([H.ack(Self.ip, .drained, generation: 1)], watch: version)
            try await eventually("node-b to be the only one pending") {
                let answer = try await cluster.answer("/v1/endpoints/\(Self.ip)")
                return answer.done
            }
            await cluster.stopAgent("node-b")
            try await eventually("node-b unknown") {
                let answer = try await cluster.answer("/v1/endpoints/\(Self.ip)")
                return !answer.done && answer.unknown.map(\.node) == ["node-b"] && answer.unknown.first?.reason == .disconnected
            }
            let nodes = try await cluster.nodes()
            #expect(nodes.counts == .init(total: 2, healthy: 1, unknown: 1, excluded: 0))
            #expect(nodes.nodes.first { $0.node == "node-a" }?.mode == "nftables")

            // While it is away, its agent records more (the stream resumes from the sequence it had).
            let b = try #require(cluster.agents["node-b"])
            let before = b.hub.sequence
            b.record([H.ack(Self.other, .missing, generation: 1)], watch: version)
            let waiter = Task { try await cluster.answer("/v1/endpoints/\(Self.ip)?wait=20s") }
            try await cluster.restartAgent("node-b")
            let answer = try await waiter.value
            #expect(answer.done)
            try await eventually("the resumed stream to deliver the missed delta") {
                let health = try await cluster.nodes().nodes.first { $0.node == "node-b" }
                return health?.seq == before + 1 && (health?.connects ?? 0) >= 2 && health?.inTransition == 1
            }
        }
    }

    /// A restarted aggregator rebuilds every answer from the agents and the API.
    @Test func aggregatorRestartRebuildsAnswers() async throws {
        try await H.with([.init(ip: Self.ip, condition: .terminating)], nodes: ["node-a", "node-b"]) { cluster in
            let version = try await cluster.sliceVersion()
            cluster.agents["node-a"]?.record([H.ack(Self.ip, .drained, generation: 1)], watch: version)
            cluster.agents["node-b"]?.record([H.ack(Self.ip, .stale, generation: 1)], watch: version)
            try await eventually("node-b stale") { (try await cluster.answer("/v1/endpoints/\(Self.ip)")).pending.map(\.node) == ["node-b"] }
            await cluster.stopAggregator()
            try await cluster.startAggregator()
            try await eventually("the same answer from the new aggregator") {
                let answer = try await cluster.answer("/v1/endpoints/\(Self.ip)")
                return answer.pending.map(\.node) == ["node-b"] && answer.pending.first?.reason == .stale && answer.nodes.done == 1
            }
        }
    }

    @Test func unknownNodesCanBeIgnoredByPolicy() async throws {
        try await H.with([.init(ip: Self.ip, condition: .terminating)], nodes: ["node-a", "node-b"], configure: { $0.unknownNodes = .ignore }) { cluster in
            await cluster.stopAgent("node-b")
            try await eventually("done without node-b, which is named") {
                let answer = try await cluster.answer("/v1/endpoints/\(Self.ip)")
                return answer.done && answer.unknown.map(\.node) == ["node-b"] && answer.policy.unknownNodes == .ignore
                    && answer.nodes.counted == 1
            }
        }
    }

    /// An agent that sends garbage is disconnected and counted; one that sends nothing goes
    /// `unknown` after the silence timeout. Neither holds up the others.
    @Test func hostileAgentsAreDisconnectedAndCounted() async throws {
        let garbage = try await ScriptedAgent.start { writer in
            try await writer.write(ByteBuffer(string: "{\"type\":\"snapshot\" this is not json\n"))
        }
        let silent = try await ScriptedAgent.start { _ in try await Task.sleep(for: .seconds(3600)) }
        defer {
            garbage.stop()
            silent.stop()
        }
        try await H.with([.init(ip: Self.ip, condition: .terminating)], nodes: ["node-a"], configure: {
            $0.staticAgents["node-bad"] = "http://127.0.0.1:\(garbage.port)"
            $0.staticAgents["node-mute"] = "http://127.0.0.1:\(silent.port)"
            $0.silenceTimeout = .milliseconds(500)
            $0.unknownNodes = .ignore
        }) { cluster in
            try await eventually("the garbage counted and the silent agent unknown") {
                let nodes = try await cluster.nodes()
                let bad = nodes.nodes.first { $0.node == "node-bad" }
                return (bad?.malformed ?? 0) >= 1 && bad?.status == "unknown"
                    && nodes.nodes.first { $0.node == "node-mute" }?.status == "unknown"
            }
            let answer = try await cluster.answer("/v1/endpoints/\(Self.ip)?wait=10s")
            #expect(answer.done)
            #expect(answer.unknown.map(\.node) == ["node-bad", "node-mute"])
            // The mute stream is dropped and tried again after the silence timeout.
            try await eventually("the mute agent to be reconnected") {
                ((try await cluster.nodes()).nodes.first { $0.node == "node-mute" }?.connects ?? 0) >= 2
            }
            let metrics = try await cluster.get("/metrics").body
            let silentLine = metrics.split(separator: "\n").first { $0.hasPrefix(#"settle_aggregator_stream_failures_total{reason="silent"}"#) }
            #expect((silentLine?.split(separator: " ").last).flatMap { Double($0) } ?? 0 >= 1)
            let malformed = metrics.split(separator: "\n").first { $0.hasPrefix(#"settle_aggregator_stream_failures_total{reason="malformed"}"#) }
            #expect((malformed?.split(separator: " ").last).flatMap { Double($0) } ?? 0 >= 1)
        }
    }

    @Test func badRequestsGetJSONErrors() async throws {
        try await H.with([.init(ip: Self.ip, condition: .terminating)], nodes: ["node-a"], configure: { $0.maxWaiters = 1; $0.maxWait = .seconds(60) }) { cluster in
            let cases: [(String, Int, String)] = [
                ("/v1/endpoints/not-an-ip", 400, "not an IP address"),
                ("/v1/endpoints/\(Self.ip)?for=gone", 400, "for must be drained or programmed"),
                ("/v1/endpoints/\(Self.ip)?wait=soon", 400, "wait must be a duration"),
                ("/v1/endpoints/\(Self.ip)?wait=2h", 400, "longer than this aggregator's maximum"),
                // Once a crash: a duration beyond Int64 milliseconds trapped in the conversion.
                ("/v1/endpoints/\(Self.ip)?wait=1e16", 400, "wait must be a duration"),
                ("/v1/endpoints/\(Self.ip)?color=red", 400, "unknown query parameter"),
                ("/v1/endpoints/10.9.9.9", 404, "no EndpointSlice lists 10.9.9.9"),
                ("/v1/pods/shop/nobody", 404, "no EndpointSlice names pod shop/nobody"),
                ("/v1/pods/Shop/UPPER", 400, "not a Pod namespace/name"),
                ("/v1/endpoints/\(Self.ip)?wait=1s&for=" + String(repeating: "x", count: 2000), 414, "query string longer"),
                ("/v1/nothing", 404, "no such path"),
            ]
            for (path, status, message) in cases {
                let response = try await cluster.get(path)
                #expect(response.status == status, "\(path)")
                let error = try? AckWire.decoder.decode(APIError.self, from: Data(response.body.utf8))
                #expect(error?.status == status, "\(path): \(response.body)")
                #expect(error?.error.contains(message) == true, "\(path): \(response.body)")
            }
            let post = try await cluster.get("/v1/nodes", method: .POST)
            #expect(post.status == 405)
            #expect(post.headers["Allow"] == ["GET"])

            // One waiter is the cap: the next gets 429 with Retry-After.
            cluster.agents["node-a"]?.record([H.ack(Self.ip, .stale, generation: 1)], watch: try await cluster.sliceVersion())
            try await eventually("the stale ack") { (try await cluster.answer("/v1/endpoints/\(Self.ip)")).pending.first?.reason == .stale }
            let held = Task { try await cluster.answer("/v1/endpoints/\(Self.ip)?wait=3s") }
            try await eventually("the first waiter to be open") {
                (try await cluster.get("/metrics").body).contains("settle_aggregator_waiters 1")
            }
            let refused = try await cluster.get("/v1/endpoints/\(Self.ip)?wait=3s")
            #expect(refused.status == 429)
            #expect(refused.headers["Retry-After"] == ["1"])
            #expect(try await held.value.timedOut)
        }
    }

    /// A client that hangs up ends its wait at once: it does not hold a waiter's place (and
    /// count against --max-waiters) until the deadline. Before, the wait stayed open.
    @Test func departedClientsCancelTheirWaits() async throws {
        try await H.with([.init(ip: Self.ip, condition: .terminating)], nodes: ["node-a"]) { cluster in
            cluster.agents["node-a"]?.record([H.ack(Self.ip, .stale, generation: 1)], watch: try await cluster.sliceVersion())
            try await eventually("the stale ack") { (try await cluster.answer("/v1/endpoints/\(Self.ip)")).pending.first?.reason == .stale }
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let port = cluster.aggregatorPort
            let request = Task {
                _ = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/endpoints/\(Self.ip)?wait=60s"), timeout: .seconds(120))
            }
            try await eventually("the wait to be open") { (try await cluster.get("/metrics").body).contains("settle_aggregator_waiters 1") }
            request.cancel()
            _ = try? await request.value
            try await client.shutdown()
            try await eventually("the wait to be cancelled", timeout: .seconds(10)) {
                let metrics = try await cluster.get("/metrics").body
                return metrics.contains("settle_aggregator_waiters 0")
                    && metrics.contains(#"settle_aggregator_waits_total{for="drained",result="cancelled"} 1"#)
            }
        }
    }

    @Test func metricsPassPromtool() async throws {
        try await H.with([.init(ip: Self.ip, condition: .terminating)], nodes: ["node-a"]) { cluster in
            _ = try await cluster.answer("/v1/endpoints/\(Self.ip)?wait=100ms")
            let metrics = try await cluster.get("/metrics").body
            #expect(metrics.contains("settle_aggregator_nodes{status=\"healthy\"}"))
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") else {
                Issue.record("promtool is not installed (Debian package prometheus; .ci/install-deps installs it)")
                return
            }
            do {
                _ = try Command.run("/usr/bin/promtool", ["check", "metrics"], input: metrics)
            } catch {
                Issue.record("promtool check metrics: \(error)")
            }
        }
    }
}

/// An "agent" that answers `/v1/acks` with whatever `body` writes: garbage, or nothing at all.
struct ScriptedAgent: Sendable {
    let port: Int
    private let task: Task<Void, any Error>

    static func start(_ body: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) async throws -> ScriptedAgent {
        let router = Router()
        router.get("/v1/acks") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
                var writer: any ResponseBodyWriter = writer
                try await body(&writer)
                try await writer.finish(nil)
            })
        }
        let port = PortBox()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { port.set($0.localAddress?.port) }, logger: AggregatorHarness.quietLogger)
        let task = Task { try await app.run() }
        try await eventually("the scripted agent to listen") { port.value != nil }
        return ScriptedAgent(port: port.value!, task: task)
    }

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    func stop() { task.cancel() }
}

final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    var value: Int? { lock.withLock { port } }
    func set(_ value: Int?) { lock.withLock { port = value } }
}
