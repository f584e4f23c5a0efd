import Foundation
import SettleAPIServer
import Subprocess
import Testing

/// The stand-in must satisfy the real `kubectl`: where they disagree, the stand-in is wrong.
@Suite(.enabled(if: kubectlPath != nil, "kubectl is not installed here (CI has it): skipping kubectl fidelity tests"))
struct KubectlFidelityTests {
    static var kubectl: String? { kubectlPath }

    /// Writes a kubeconfig for the stand-in into a fresh temporary directory.
    static func kubeconfig(port: Int, token: String? = nil) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-kubectl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let user = token.map { "    token: \($0)\n" } ?? "    {}\n"
        let yaml = """
            apiVersion: v1
            kind: Config
            clusters:
            - name: standin
              cluster:
                server: http://127.0.0.1:\(port)
            users:
            - name: tester
              user:
            \(user)contexts:
            - name: standin
              context:
                cluster: standin
                user: tester
            current-context: standin

            """
        let path = directory.appendingPathComponent("config")
        try yaml.write(to: path, atomically: true, encoding: .utf8)
        return path
    }

    static func runKubectl(_ arguments: [String], kubeconfig: URL) async throws -> (status: TerminationStatus, stdout: String, stderr: String) {
        // `timeout` bounds a kubectl that would otherwise wait forever; the cache dir keeps discovery fresh.
        let cache = kubeconfig.deletingLastPathComponent().appendingPathComponent("cache").path
        let result = try await run(
            .name("timeout"), arguments: Arguments(["60", kubectl!] + arguments + ["--cache-dir", cache]),
            environment: .inherit.updating(["KUBECONFIG": kubeconfig.path]),
            output: .string(limit: 16 << 20), error: .string(limit: 16 << 20))
        return (result.terminationStatus, result.standardOutput, result.standardError)
    }

    /// Splits kubectl's stream of pretty-printed JSON documents (one per object in watch mode).
    static func documents(_ text: String) throws -> [[String: Any]] {
        var documents: [[String: Any]] = []
        var current = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            current += line + "\n"
            if line == "}" {
                let object = try JSONSerialization.jsonObject(with: Data(current.utf8))
                documents.append(object as? [String: Any] ?? [:])
                current = ""
            }
        }
        return documents
    }

    /// `kubectl get services,endpointslices -A -o json` lists both kinds across namespaces.
    @Test("kubectl get services,endpointslices -A -o json lists both kinds")
    func getServicesAndSlices() async throws {
        try await withStandIn { server, port in
            let state = server.state
            try await state.create(json: Fixtures.service("default", "web", clusterIP: "10.96.0.10"), in: .services)
            try await state.create(json: Fixtures.service("other", "db", clusterIP: "10.96.0.11"), in: .services)
            try await state.create(json: Fixtures.endpointSlice("default", "web-abc", service: "web", ips: ["10.244.0.5"]), in: .endpointSlices)
            let config = try Self.kubeconfig(port: port)
            defer { try? FileManager.default.removeItem(at: config.deletingLastPathComponent()) }
            let result = try await Self.runKubectl(["get", "services,endpointslices", "-A", "-o", "json", "-v=8"], kubeconfig: config)
            #expect(result.status == .exited(0), "kubectl failed:\n\(result.stderr.suffix(4000))")
            let list = try #require(try Self.documents(result.stdout).first)
            #expect(list["kind"] as? String == "List")
            let items = try #require(list["items"] as? [[String: Any]])
            let names = items.map { item in
                let metadata = item["metadata"] as? [String: Any]
                return "\(item["kind"] as? String ?? "?")/\(metadata?["namespace"] as? String ?? "")/\(metadata?["name"] as? String ?? "")"
            }
            #expect(names == ["Service/default/web", "Service/other/db", "EndpointSlice/default/web-abc"])
        }
    }

    /// `kubectl get endpointslices -A --watch -o json` prints the list, then every change, until the watch ends.
    @Test("kubectl get endpointslices -A --watch -o json sees list then add, modify, delete")
    func watchSlices() async throws {
        try await withStandIn { server, port in
            let state = server.state
            try await state.create(json: Fixtures.endpointSlice("default", "first", service: "web", ips: ["10.244.0.5"]), in: .endpointSlices)
            let config = try Self.kubeconfig(port: port)
            defer { try? FileManager.default.removeItem(at: config.deletingLastPathComponent()) }
            async let watched = Self.runKubectl(["get", "endpointslices", "-A", "--watch", "-o", "json", "-v=8"], kubeconfig: config)
            try await eventually("kubectl watching") { await state.watchCount == 1 }
            try await state.create(json: Fixtures.endpointSlice("ns2", "second", service: "db", ips: ["10.244.1.7"]), in: .endpointSlices)
            try await state.update(
                json: Fixtures.endpointSlice("default", "first", service: "web", ips: ["10.244.0.5"], ready: false),
                in: .endpointSlices, checkResourceVersion: false)
            try await state.delete(in: .endpointSlices, namespace: "ns2", name: "second")
            // Ending the watch ends kubectl (after it has printed everything sent before the end).
            await state.closeAllWatches()
            let result = try await watched
            let documents = try Self.documents(result.stdout)
            let summary = documents.map { document in
                let metadata = document["metadata"] as? [String: Any]
                let endpoints = document["endpoints"] as? [[String: Any]]
                let conditions = endpoints?.first?["conditions"] as? [String: Any]
                return "\(metadata?["name"] as? String ?? "?") ready=\(conditions?["ready"] as? Bool ?? false)"
            }
            #expect(summary == ["first ready=true", "second ready=true", "first ready=false", "second ready=true"],
                    "stderr:\n\(result.stderr.suffix(4000))")
            // kubectl listed, then watched from the list's resourceVersion.
            let requests = await state.recordedRequests.filter { $0.path.hasSuffix("/endpointslices") }
            #expect(requests.count == 2)
            #expect(requests.first?.isWatch == false)
            #expect(requests.last?.isWatch == true)
            #expect(requests.last?.query["resourceVersion"] == "1001")
            let generations = documents.compactMap { ($0["metadata"] as? [String: Any])?["generation"] as? Int }
            #expect(generations == [1, 1, 2, 1])
        }
    }
}

/// Where kubectl is, if installed.
let kubectlPath: String? = ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }
