import Foundation
import SettleAPIServer
import SettleKube
import Subprocess
import Testing

/// The stand-in's PATCH and DELETE must satisfy the real `kubectl` as its list and watch do: `kubectl
/// label` and `kubectl patch` (each with the content type kubectl chooses) and `kubectl delete
/// --grace-period`.
@Suite(.enabled(if: kubectlPath != nil, "kubectl is not installed here (CI has it): skipping kubectl fidelity tests"))
struct KubectlWritesFidelityTests {
    static func withPod(_ body: (APIServer, URL) async throws -> Void) async throws {
        var configuration = APIServerConfiguration.testing()
        configuration.endpointSliceController = true
        try await withStandIn(configuration) { server, port in
            try await server.state.create(
                V1Pod(
                    metadata: ObjectMeta(name: "web-1", namespace: "shop", labels: ["app": "web", "tier": "front"]),
                    spec: .init(nodeName: "node-a"), status: .init(phase: "Running", podIP: "10.0.0.5")))
            let config = try KubectlFidelityTests.kubeconfig(port: port)
            defer { try? FileManager.default.removeItem(at: config.deletingLastPathComponent()) }
            try await body(server, config)
        }
    }

    static func labels(_ server: APIServer) async throws -> [String: String] {
        try await server.state.get(V1Pod.self, namespace: "shop", name: "web-1").metadata.labels ?? [:]
    }

    @Test("kubectl label, and kubectl patch with the strategic (default), merge and json types")
    func labelAndPatch() async throws {
        try await Self.withPod { server, config in
            let label = try await KubectlFidelityTests.runKubectl(
                ["-n", "shop", "label", "pod", "web-1", "app=drained", "--overwrite", "tier-"], kubeconfig: config)
            #expect(label.status == .exited(0), "\(label.stderr.suffix(2000))")
            #expect(try await Self.labels(server) == ["app": "drained"])

            let strategic = try await KubectlFidelityTests.runKubectl(
                ["-n", "shop", "patch", "pod", "web-1", "-p", #"{"metadata":{"labels":{"tier":"back"}}}"#], kubeconfig: config)
            #expect(strategic.status == .exited(0), "\(strategic.stderr.suffix(2000))")
            #expect(try await Self.labels(server) == ["app": "drained", "tier": "back"])

            let merge = try await KubectlFidelityTests.runKubectl(
                ["-n", "shop", "patch", "pod", "web-1", "--type", "merge", "-p", #"{"metadata":{"labels":{"tier":null}}}"#], kubeconfig: config)
            #expect(merge.status == .exited(0), "\(merge.stderr.suffix(2000))")
            #expect(try await Self.labels(server) == ["app": "drained"])

            let json = try await KubectlFidelityTests.runKubectl(
                ["-n", "shop", "patch", "pod", "web-1", "--type", "json", "-p", #"[{"op":"replace","path":"/metadata/labels/app","value":"web"}]"#],
                kubeconfig: config)
            #expect(json.status == .exited(0), "\(json.stderr.suffix(2000))")
            #expect(try await Self.labels(server) == ["app": "web"])

            let methods = await server.state.recordedRequests.filter { $0.method == "PATCH" }.count
            #expect(methods == 4)
        }
    }

    @Test("kubectl delete pod --grace-period sends the grace period, and the pod is gone")
    func deleteWithGracePeriod() async throws {
        try await Self.withPod { server, config in
            let result = try await KubectlFidelityTests.runKubectl(
                ["-n", "shop", "delete", "pod", "web-1", "--grace-period", "5"], kubeconfig: config)
            #expect(result.status == .exited(0), "\(result.stderr.suffix(2000))")
            #expect(await server.state.deletions.map(\.gracePeriodSeconds) == [5])
            await #expect(throws: (any Error).self) { try await server.state.get(V1Pod.self, namespace: "shop", name: "web-1") }
        }
    }
}
