import Foundation
import Logging
import SettleAPIServer
import SettleAggregation
import SettleAggregator
import SettleKube
import SettleKubeClient
import SettleTestSupport
import Testing

/// Pins the aggregator's RBAC (daemonset/aggregator-rbac.yaml) to the requests the aggregator
/// really makes, as the agent's twin does: cluster-wide requests must be exactly what its
/// ClusterRole grants, and its pod requests exactly what the Role in the agents' namespace grants
/// — and be made in that namespace only.
@Suite(.serialized)
struct AggregatorRBACTests {
    @Test("the aggregator's ClusterRole and Role grant exactly what it uses")
    func aggregatorRolesMatchRequests() async throws {
        var logger = Logger(label: "test.rbac")
        logger.logLevel = .critical
        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(1)), logger: logger)
        _ = try await server.state.create(WebCluster.service())
        _ = try await server.state.create(WebCluster.slice([.init(ip: "10.1.0.1")]))
        _ = try await server.state.create(V1Node(metadata: ObjectMeta(name: "node-a")))
        _ = try await server.state.create(
            V1Pod(
                metadata: ObjectMeta(name: "settle-agent-x", namespace: "settle-system", labels: ["app.kubernetes.io/name": "settle-agent"]),
                spec: .init(nodeName: "node-a", hostNetwork: true), status: .init(phase: "Running", podIP: "127.0.0.1")))
        let serverTask = Task { try await server.run() }
        defer { serverTask.cancel() }
        let port = try await server.waitForPort()
        let client = try KubeClient(configuration: KubeClientConfiguration(server: "http://127.0.0.1:\(port)"), logger: logger)
        let runtime = AggregatorRuntime(
            configuration: AggregatorConfiguration(agentNamespace: "settle-system", agentPort: 1, tickInterval: .milliseconds(50)),
            http: .init(host: "127.0.0.1", port: 0), client: client, logger: logger)
        let task = Task { try await runtime.run() }
        do {
            try await eventually("the aggregator to be ready") { await runtime.aggregator.readiness().ready }
            // A change, so that whatever the aggregator does on one is recorded too.
            var slice = try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1")
            slice.endpoints = WebCluster.slice([.init(ip: "10.1.0.1", ready: false, serving: true, terminating: true)]).endpoints
            let updated = try await server.state.update(slice)
            try await eventually("the aggregator to see it") {
                await runtime.aggregator.nodesAnswer().watch == updated.metadata.resourceVersion
            }
        } catch {
            task.cancel()
            try? await client.shutdown()
            throw error
        }
        task.cancel()
        _ = try? await task.value
        try await client.shutdown()

        var clusterWide = Set<RBACRules.Grant>()
        var inAgentNamespace = Set<RBACRules.Grant>()
        var unclassified: [String] = []
        for request in await server.state.recordedRequests {
            switch RBACRules.classify(request) {
            case .resource(let grant):
                if request.path.contains("/namespaces/settle-system/") {
                    inAgentNamespace.insert(grant)
                } else {
                    clusterWide.insert(grant)
                }
            case .discovery: break
            case .unknown: unclassified.append("\(request.method) \(request.path)")
            }
        }
        #expect(unclassified.isEmpty, "requests the test cannot map to RBAC: \(unclassified)")
        let file = RBACRules.repositoryFile("daemonset/aggregator-rbac.yaml")
        let clusterRole = try RBACRules.role(kind: "ClusterRole", named: "settle-aggregator", in: file)
        let role = try RBACRules.role(kind: "Role", named: "settle-aggregator-agents", in: file)
        #expect(clusterWide == clusterRole, "cluster-wide: used \(clusterWide.sorted()), granted \(clusterRole.sorted())")
        #expect(inAgentNamespace == role, "in settle-system: used \(inAgentNamespace.sorted()), granted \(role.sorted())")
    }
}
