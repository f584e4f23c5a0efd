import Foundation
import SettleAPIServer
import Subprocess
import Testing

/// The official Kubernetes Python client must list, write and watch against the stand-in.
@Suite(.enabled(if: pythonKubernetesAvailable, "python3 with the `kubernetes` module is not installed here (CI has it): skipping"))
struct PythonClientFidelityTests {
    /// The script lists Services (with kube-proxy's selector) and EndpointSlices, writes a slice, watches
    /// from the list's RV with bookmarks, and checks an expired RV fails with 410.
    @Test("official Python client lists, writes and watches Services and EndpointSlices")
    func listWriteWatch() async throws {
        try await withStandIn(.testing(bookmarkInterval: .milliseconds(300))) { server, port in
            let state = server.state
            try await state.create(json: Fixtures.service("default", "web", clusterIP: "10.96.0.10"), in: .services)
            try await state.create(
                json: Fixtures.service("default", "headless", clusterIP: "None", labels: ["service.kubernetes.io/headless": ""]),
                in: .services)
            try await state.create(json: Fixtures.endpointSlice("default", "web-abc", service: "web", ips: ["10.244.0.5"]), in: .endpointSlices)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python/list_watch.py").path
            let result = try await run(
                .name("timeout"), arguments: ["120", "python3", script, "http://127.0.0.1:\(port)"],
                output: .string(limit: 4 << 20), error: .string(limit: 4 << 20))
            #expect(result.terminationStatus == .exited(0), "python failed:\n\(result.standardError.suffix(4000))")
            let summary = try #require(
                try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
                "stdout: \(result.standardOutput)")
            #expect(summary["services"] as? [String] == ["default/web"])
            #expect(summary["serviceClusterIPs"] as? [String] == ["10.96.0.10"])
            #expect(summary["slices"] as? [String] == ["default/web-abc"])
            #expect(summary["sliceAddresses"] as? [String] == ["10.244.0.5"])
            #expect(summary["createdGeneration"] as? Int == 1)
            #expect(summary["replacedGeneration"] as? Int == 2)
            #expect(summary["watchEvents"] as? [String] == [
                "ADDED default/py-slice ready=True", "MODIFIED default/py-slice ready=False", "DELETED default/py-slice ready=False",
            ])
            #expect((summary["bookmarks"] as? Int ?? 0) >= 1)
            #expect(summary["resumeResourceVersion"] as? String == (await state.resourceVersion))
            #expect(summary["expiredWatch"] as? Int == 410)
        }
    }
}

/// Whether `python3 -c "import kubernetes"` succeeds.
let pythonKubernetesAvailable: Bool = {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import kubernetes"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    } catch {
        return false
    }
}()
