import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SettleAPIServer
import SettleAcks
import SettleAgent
import SettleAggregation
import SettleAggregator
import SettleConvergence
import SettleKube
import SettleKubeClient
import SettleModel
import SettleSelection
import SettleTestSupport

/// A stand-in API server with one Service `shop/web` and its slice, simulated agents (the agent's
/// real HTTP server and ack journal, fed by the test instead of a dataplane) and the real
/// aggregator, all over HTTP on loopback.
final class AggregatorHarness: @unchecked Sendable {
    let server: APIServer
    let apiPort: Int
    let client: KubeClient
    let http = HTTPClient.shared
    private(set) var agents: [String: SimulatedAgent] = [:]
    private(set) var aggregator: AggregatorRuntime?
    private(set) var aggregatorPort = 0
    private var aggregatorTask: Task<Void, any Error>?
    private let serverTask: Task<Void, any Error>

    static var quietLogger: Logger {
        var logger = Logger(label: "test.aggregator")
        logger.logLevel = .critical
        return logger
    }

    struct Endpoint {
        var ip: String
        var condition: EndpointIndex.Condition = .ready
    }

    private init(server: APIServer, apiPort: Int, client: KubeClient, serverTask: Task<Void, any Error>) {
        self.server = server
        self.apiPort = apiPort
        self.client = client
        self.serverTask = serverTask
    }

    /// Runs `body` with the slice listing `endpoints`, agents on `nodes` (ready, watch at the
    /// slice's version, no acks) and an aggregator reading them.
    static func with(
        _ endpoints: [Endpoint], nodes: [String], configure: (inout AggregatorConfiguration) -> Void = { _ in },
        _ body: (AggregatorHarness) async throws -> Void
    ) async throws {
        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(1)), logger: quietLogger)
        _ = try await server.state.create(service())
        _ = try await server.state.create(slice(endpoints))
        let serverTask = Task { try await server.run() }
        let apiPort = try await server.waitForPort()
        let client = try KubeClient(configuration: KubeClientConfiguration(server: "http://127.0.0.1:\(apiPort)"), logger: quietLogger)
        let harness = AggregatorHarness(server: server, apiPort: apiPort, client: client, serverTask: serverTask)
        do {
            let version = try await harness.sliceVersion()
            for node in nodes { try await harness.addAgent(node, watch: version) }
            try await harness.startAggregator(configure: configure)
            try await body(harness)
        } catch {
            await harness.shutdown()
            throw error
        }
        await harness.shutdown()
    }

    private func shutdown() async {
        await stopAggregator()
        for agent in agents.values { await agent.stop() }
        serverTask.cancel()
        try? await client.shutdown()
    }

    // MARK: Cluster

    static func service() -> V1Service {
        V1Service(
            metadata: ObjectMeta(name: "web", namespace: "shop", uid: "uid-svc-web"),
            spec: .init(
                type: .clusterIP, clusterIP: "172.30.0.10", clusterIPs: ["172.30.0.10"], ipFamilies: ["IPv4"],
                ports: [.init(name: "http", port: 80)]))
    }

    static func slice(_ endpoints: [Endpoint]) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(name: "web-1", namespace: "shop", uid: "uid-web-1", labels: [V1EndpointSlice.serviceNameLabel: "web"]),
            addressType: .ipv4,
            endpoints: endpoints.map { endpoint in
                let conditions: V1EndpointSlice.Conditions =
                    switch endpoint.condition {
                    case .ready: .init(ready: true, serving: true, terminating: false)
                    case .terminating: .init(ready: false, serving: true, terminating: true)
                    case .notReady, .removed: .init(ready: false, serving: false, terminating: false)
                    }
                return .init(
                    addresses: [endpoint.ip], conditions: conditions,
                    targetRef: ObjectReference(kind: "Pod", namespace: "shop", name: "pod-\(endpoint.ip)"))
            },
            ports: [.init(name: "http", protocol: .tcp, port: 8080)])
    }

    /// Replaces the slice's endpoints (a new generation); returns (generation, resourceVersion).
    @discardableResult
    func setSlice(_ endpoints: [Endpoint]) async throws -> (generation: Int64, version: String) {
        var slice = try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1")
        slice.endpoints = Self.slice(endpoints).endpoints
        let updated = try await server.state.update(slice)
        return (updated.metadata.generation ?? 0, updated.metadata.resourceVersion ?? "")
    }

    func sliceVersion() async throws -> String {
        try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1").metadata.resourceVersion ?? ""
    }

    static func key(_ ip: String) -> AckKey {
        AckKey(service: "shop/web", port: "http", protocol: .tcp, ip: IPAddress(ip)!, targetPort: 8080)
    }

    /// An ack as an agent writes it for `ip` at slice `generation`.
    static func ack(_ ip: String, _ state: EndpointState, generation: Int64, fallback: Bool = false) -> Ack {
        Ack(
            key: key(ip), state: state, fallback: fallback, reason: state == .programmed || state == .missing ? .desiredAndRouted : .terminating,
            slice: SliceReference(name: "web-1", uid: "uid-web-1", generation: generation), targetRef: "shop/pod-\(ip)",
            change: state == .programmed || state == .missing ? .added : .removed, since: Date(),
            convergedAt: state == .drained || state == .programmed ? Date() : nil)
    }

    // MARK: Agents

    func addAgent(_ node: String, watch: String, port: Int = 0) async throws {
        let agent = try await SimulatedAgent.start(node: node, watch: watch, port: port)
        agents[node] = agent
    }

    /// Stops `node`'s agent's HTTP server (the journal stays, as for a network break).
    func stopAgent(_ node: String) async {
        await agents[node]?.stop()
    }

    /// Serves `node`'s journal again on the same port.
    func restartAgent(_ node: String) async throws {
        guard let old = agents[node] else { return }
        agents[node] = try await SimulatedAgent.start(node: node, hub: old.hub, port: old.port)
    }

    // MARK: Aggregator

    func startAggregator(configure: (inout AggregatorConfiguration) -> Void = { _ in }) async throws {
        var configuration = AggregatorConfiguration(
            staticAgents: Dictionary(uniqueKeysWithValues: agents.map { ($0.key, "http://127.0.0.1:\($0.value.port)") }),
            watchNodes: false, silenceTimeout: .seconds(2), tickInterval: .milliseconds(50),
            reconnectInitial: .milliseconds(50), reconnectMaximum: .milliseconds(200))
        configure(&configuration)
        let runtime = AggregatorRuntime(
            configuration: configuration, http: .init(host: "127.0.0.1", port: 0), client: client, logger: Self.quietLogger)
        aggregator = runtime
        aggregatorTask = Task { try await runtime.run() }
        aggregatorPort = try await runtime.http.waitForPort()
        try await eventually("the aggregator to be ready") { (try? await self.get("/readyz").status) == 200 }
        // And to hear every simulated agent, so tests start from connected nodes.
        let names = Set(agents.keys)
        try await eventually("the aggregator to hear every agent") {
            let healthy = (try? await self.nodes().nodes.filter { $0.status == "healthy" }.map(\.node)) ?? []
            return names.isSubset(of: healthy)
        }
    }

    func stopAggregator() async {
        aggregatorTask?.cancel()
        _ = try? await aggregatorTask?.value
        aggregatorTask = nil
    }

    // MARK: Requests

    func get(_ path: String, method: HTTPMethod = .GET) async throws -> (status: Int, body: String, headers: HTTPHeaders) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(aggregatorPort)\(path)")
        request.method = method
        let response = try await http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: body), response.headers)
    }

    func answer(_ path: String) async throws -> WaitAnswer {
        let (status, body, _) = try await get(path)
        guard status == 200 else { throw TimedOut(what: "a 200 answer from \(path), got \(status): \(body)") }
        return try AckWire.decoder.decode(WaitAnswer.self, from: Data(body.utf8))
    }

    func nodes() async throws -> NodesAnswer {
        try AckWire.decoder.decode(NodesAnswer.self, from: Data(try await get("/v1/nodes").body.utf8))
    }
}

/// One node's agent without a dataplane: the real `/v1/acks` server over a journal the test writes.
struct SimulatedAgent: Sendable {
    let node: String
    let hub: AckHub
    let port: Int
    private let task: Task<Void, any Error>

    struct Provider: AgentStateProvider {
        let node: String
        func readiness() async -> AgentReadiness { .ready }
        func state() async -> AgentStateDocument { AgentStateDocument(node: node, ready: true) }
    }

    static func start(node: String, watch: String, port: Int = 0) async throws -> SimulatedAgent {
        let hub = AckHub(node: node)
        hub.setMode("nftables")
        hub.setWatch(watch)
        hub.setReady(true)
        return try await start(node: node, hub: hub, port: port)
    }

    static func start(node: String, hub: AckHub, port: Int) async throws -> SimulatedAgent {
        let server = AgentHTTPServer(
            configuration: .init(host: "127.0.0.1", port: port, heartbeatInterval: .milliseconds(300)),
            provider: Provider(node: node), hub: hub, metrics: AgentMetrics(), logger: AggregatorHarness.quietLogger)
        let task = Task { try await server.run() }
        let bound = try await server.waitForPort()
        return SimulatedAgent(node: node, hub: hub, port: bound, task: task)
    }

    private init(node: String, hub: AckHub, port: Int, task: Task<Void, any Error>) {
        self.node = node
        self.hub = hub
        self.port = port
        self.task = task
    }

    /// Records acks (with the watch at `watch`), as the agent does after applying slice events.
    @discardableResult
    func record(_ acks: [Ack], watch: String) -> AckDelta? {
        hub.setWatch(watch)
        return hub.record(changed: acks, expired: [])
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}
