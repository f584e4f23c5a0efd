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

/// A cluster for `settle drain`, all over loopback HTTP: the stand-in API server with its
/// EndpointSlice controller on, two stand-in agents (`node-a`, `node-b`) and the real
/// `settle aggregator` binary reading both.
///
/// Namespace `shop`:
/// - Services `web` (selector `app=web`) and `web-admin` (`app=web, role=admin`), whose slices list
///   pods `web-1` (10.244.1.7) and `web-2` (10.244.2.8), both ready: `web-1` is in two Services.
/// - Service `solo` (`app=solo`), whose slice lists only `solo-1` (10.244.3.3).
/// - Pod `batch-1` (10.244.4.4), which no Service selects; pod `pending-1`, with no IP yet.
///
/// The agents have no acks (their dataplanes are not simulated); each reports its EndpointSlice
/// watch at the API server's current resourceVersion, so a node counts as drained once it has seen
/// a change — unless the test holds its watch back (``hold(_:)``): then the aggregator sees the
/// node `behind` and waits for it, as for a node whose agent lags.
final class DrainCluster: Sendable {
    let server: APIServer
    let apiURL: String
    let aggregatorURL: String
    private let agents: [String: DrainAgent]

    private init(server: APIServer, apiURL: String, aggregatorURL: String, agents: [String: DrainAgent]) {
        self.server = server
        self.apiURL = apiURL
        self.aggregatorURL = aggregatorURL
        self.agents = agents
    }

    static func with(_ body: (DrainCluster) async throws -> Void) async throws {
        var logger = Logger(label: "settle.test.apiserver")
        logger.logLevel = .critical
        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(1), endpointSliceController: true), logger: logger)
        try await seed(server.state)
        let serverTask = Task { try await server.run() }
        defer { serverTask.cancel() }
        let apiPort = try await server.waitForPort()
        var agents: [String: DrainAgent] = [:]
        for node in ["node-a", "node-b"] { agents[node] = try await DrainAgent.start(node: node, server: server) }
        defer { for agent in agents.values { agent.stop() } }
        let aggregator = try SettleProcess(
            ["aggregator", "--server", "http://127.0.0.1:\(apiPort)", "--no-node-watch", "--listen", "127.0.0.1:0"]
                + agents.sorted { $0.key < $1.key }.flatMap { ["--agent", "\($0.key)=http://127.0.0.1:\($0.value.port)"] })
        defer { aggregator.terminate() }
        let line = try await aggregator.waitForLine(containing: "\"aggregator HTTP listening\"")
        let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        let port = try #require(entry?["port"].flatMap { Int($0) }, "\(line)")
        let cluster = DrainCluster(
            server: server, apiURL: "http://127.0.0.1:\(apiPort)", aggregatorURL: "http://127.0.0.1:\(port)", agents: agents)
        // Start from an aggregator that has heard both agents (it listens before its streams are up).
        try await cluster.eventually("the aggregator to hear node-a and node-b") {
            let status = try await SettleProcess.run(["status", "--aggregator", cluster.aggregatorURL])
            let rows = status.stdout.split(separator: "\n")
            return ["node-a", "node-b"].allSatisfy { node in rows.contains { $0.hasPrefix(node) && $0.contains("healthy") } }
        }
        try await body(cluster)
        aggregator.terminate()
        _ = try await aggregator.finish(timeout: .seconds(30))
    }

    /// `settle drain ARGUMENTS… -n shop --server … --aggregator …`.
    func drain(_ arguments: [String]) throws -> SettleProcess {
        try SettleProcess(["drain"] + arguments + ["-n", "shop", "--server", apiURL, "--aggregator", aggregatorURL])
    }

    /// Holds `node`'s agent's watch where it is now: the node is `behind` for every later change.
    func hold(_ node: String) async {
        agents[node]?.hold(at: await server.state.resourceVersion)
    }

    /// Lets `node`'s agent's watch follow the API server again.
    func release(_ node: String) {
        agents[node]?.hold(at: nil)
    }

    func pod(_ name: String) async -> V1Pod? {
        try? await server.state.get(V1Pod.self, namespace: "shop", name: name)
    }

    /// The pods a Service's slice lists, by name, sorted.
    func slicePods(_ service: String) async throws -> [String] {
        let slice = try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "\(service)-1")
        return (slice.endpoints ?? []).compactMap { $0.targetRef?.name }.sorted()
    }

    /// The writes (`PATCH`, `DELETE`, `POST`, `PUT`) the API server received, as `METHOD path`.
    func writes() async -> [String] {
        await server.state.recordedRequests.filter { $0.method != "GET" }.map { "\($0.method) \($0.path)" }
    }

    func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("timed out waiting for \(what)")
    }

    // MARK: Objects

    private static func seed(_ state: APIServerState) async throws {
        for (name, selector) in [("web", ["app": "web"]), ("web-admin", ["app": "web", "role": "admin"]), ("solo", ["app": "solo"])] {
            try await state.create(
                V1Service(
                    metadata: ObjectMeta(name: name, namespace: "shop"),
                    spec: .init(type: .clusterIP, ports: [.init(name: "http", port: 80)], selector: selector)))
        }
        let web = [("web-1", "10.244.1.7", "node-a"), ("web-2", "10.244.2.8", "node-b")]
        for (name, ip, node) in web {
            try await state.create(pod(name, ip: ip, node: node, labels: ["app": "web", "role": "admin", "pod-template-hash": "7d9f"]))
        }
        try await state.create(pod("solo-1", ip: "10.244.3.3", node: "node-a", labels: ["app": "solo"]))
        try await state.create(pod("batch-1", ip: "10.244.4.4", node: "node-b", labels: ["job-name": "batch"]))
        try await state.create(pod("pending-1", ip: nil, node: nil, labels: ["app": "web", "role": "admin"], phase: "Pending"))
        for service in ["web", "web-admin"] { try await state.create(slice(service, web.map { ($0.0, $0.1, $0.2) })) }
        try await state.create(slice("solo", [("solo-1", "10.244.3.3", "node-a")]))
    }

    static func pod(_ name: String, ip: String?, node: String?, labels: [String: String], phase: String = "Running") -> V1Pod {
        V1Pod(
            metadata: ObjectMeta(name: name, namespace: "shop", labels: labels),
            spec: .init(nodeName: node), status: .init(phase: phase, podIP: ip, podIPs: ip.map { [.init(ip: $0)] }))
    }

    static func slice(_ service: String, _ pods: [(name: String, ip: String, node: String)]) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(name: "\(service)-1", namespace: "shop", labels: [V1EndpointSlice.serviceNameLabel: service]),
            addressType: .ipv4,
            endpoints: pods.map { pod in
                .init(
                    addresses: [pod.ip], conditions: .init(ready: true, serving: true, terminating: false),
                    targetRef: ObjectReference(kind: "Pod", namespace: "shop", name: pod.name), nodeName: pod.node)
            },
            ports: [.init(name: "http", protocol: .tcp, port: 8080)])
    }
}

/// An agent's `/v1/acks` with nothing in transition: a snapshot, then a heartbeat every 200 ms carrying
/// its EndpointSlice watch — the API server's current resourceVersion, or the one it is held at.
final class DrainAgent: Sendable {
    let port: Int
    private let task: Task<Void, any Error>
    private let held: Shared<String?>

    private init(port: Int, task: Task<Void, any Error>, held: Shared<String?>) {
        self.port = port
        self.task = task
        self.held = held
    }

    func hold(at version: String?) { held.set(version) }

    func stop() { task.cancel() }

    static func start(node: String, server: APIServer) async throws -> DrainAgent {
        let held = Shared<String?>(nil)
        let watch: @Sendable () async -> String? = {
            if let version = held.get() { return version }
            return await server.state.resourceVersion
        }
        let (port, task) = try await StandInAckStream.serve(node: node, epoch: "00000000000000d1", watch: watch)
        return DrainAgent(port: port, task: task, held: held)
    }
}

/// A value shared between tasks.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func get() -> Value { value.withLock { $0 } }
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
}
