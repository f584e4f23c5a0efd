import Foundation
import SettleAPIServer
import SettleKube
import SettleKubeClient
import Testing

/// The client's single-object calls (get, patch, delete) against the stand-in over HTTP, and the
/// stand-in's PATCH, DELETE and EndpointSlice controller as a client sees them.
struct ObjectWritesTests {
    static func pod(_ name: String, ip: String? = "10.0.0.5", labels: [String: String] = ["app": "web"]) -> V1Pod {
        V1Pod(
            metadata: ObjectMeta(name: name, namespace: "shop", labels: labels),
            spec: .init(nodeName: "node-a"), status: .init(phase: "Running", podIP: ip))
    }

    static func json(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    @Test("get returns one object; a missing one is a 404 KubeClientError")
    func get() async throws {
        try await withStandIn { server, port in
            try await server.state.create(Self.pod("web-1"))
            try await withClient(port: port) { client in
                let pod = try await client.get(V1Pod.self, namespace: "shop", name: "web-1")
                #expect(pod.status?.podIP == "10.0.0.5")
                await #expect {
                    _ = try await client.get(V1Pod.self, namespace: "shop", name: "nope")
                } throws: { ($0 as? KubeClientError)?.httpCode == 404 }
            }
        }
    }

    @Test("merge patch: labels merge, null removes, the resourceVersion bumps and a watch sees MODIFIED")
    func mergePatch() async throws {
        try await withStandIn { server, port in
            let created = try await server.state.create(Self.pod("web-1", labels: ["app": "web", "tier": "front"]))
            try await withClient(port: port) { client in
                let events = try await client.watch(V1Pod.self, selection: .init(namespace: "shop"), resourceVersion: created.metadata.resourceVersion)
                let patch = try Self.json(["metadata": ["labels": ["app": "drained", "tier": NSNull()], "annotations": ["why": "test"]]])
                let patched = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: patch, type: .merge)
                #expect(patched.metadata.labels == ["app": "drained"])
                #expect(patched.metadata.annotations == ["why": "test"])
                #expect(Int(patched.metadata.resourceVersion ?? "") ?? 0 > Int(created.metadata.resourceVersion ?? "") ?? 0)
                #expect(patched.status?.podIP == "10.0.0.5", "fields the patch does not name stay")
                var iterator = events.makeAsyncIterator()
                let event = try await iterator.next()
                guard case .modified(let seen)? = event else { Issue.record("expected MODIFIED, got \(String(describing: event))"); return }
                #expect(seen.metadata.labels == ["app": "drained"])
            }
        }
    }

    @Test("a patch carrying a stale resourceVersion is a 409 and changes nothing")
    func stalePatch() async throws {
        try await withStandIn { server, port in
            let created = try await server.state.create(Self.pod("web-1"))
            try await withClient(port: port) { client in
                let first = try Self.json(["metadata": ["resourceVersion": created.metadata.resourceVersion!, "labels": ["app": "a"]]])
                _ = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: first)
                let stale = try Self.json(["metadata": ["resourceVersion": created.metadata.resourceVersion!, "labels": ["app": "b"]]])
                await #expect {
                    _ = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: stale)
                } throws: { ($0 as? KubeClientError)?.httpCode == 409 }
                #expect(try await client.get(V1Pod.self, namespace: "shop", name: "web-1").metadata.labels == ["app": "a"])
            }
        }
    }

    @Test("JSON patch (test, replace, add, remove with ~1 escapes) and strategic merge patch; server-side apply and unknown types are refused")
    func otherPatchTypes() async throws {
        try await withStandIn { server, port in
            try await server.state.create(Self.pod("web-1", labels: ["app": "web", "example.com/role": "x"]))
            try await withClient(port: port) { client in
                let operations: [[String: Any]] = [
                    ["op": "test", "path": "/metadata/labels/app", "value": "web"],
                    ["op": "replace", "path": "/metadata/labels/app", "value": "drained"],
                    ["op": "remove", "path": "/metadata/labels/example.com~1role"],
                    ["op": "add", "path": "/metadata/annotations", "value": ["a": "b"]],
                ]
                let body = try JSONSerialization.data(withJSONObject: operations)
                let patched = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: body, type: .json)
                #expect(patched.metadata.labels == ["app": "drained"])
                #expect(patched.metadata.annotations == ["a": "b"])

                let failing = try JSONSerialization.data(withJSONObject: [["op": "test", "path": "/metadata/labels/app", "value": "web"]])
                await #expect {
                    _ = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: failing, type: .json)
                } throws: { ($0 as? KubeClientError)?.httpCode == 422 }

                let strategic = try Self.json(["metadata": ["labels": ["tier": "front"]]])
                let merged = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: strategic, type: .strategicMerge)
                #expect(merged.metadata.labels == ["app": "drained", "tier": "front"])

                let renaming = try Self.json(["metadata": ["name": "other"]])
                await #expect {
                    _ = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: renaming)
                } throws: { ($0 as? KubeClientError)?.httpCode == 400 }
            }
            // Server-side apply and unknown types are refused as the real server refuses what it cannot read.
            for contentType in ["application/apply-patch+yaml", "text/plain", nil] {
                await #expect(throws: StoreError.self) {
                    try await server.state.patch(in: .pods, namespace: "shop", name: "web-1", patch: .object([:]), contentType: contentType)
                }
            }
        }
    }

    @Test("delete: the grace period is recorded, a UID precondition that does not hold is a 409, a missing pod a 404")
    func delete() async throws {
        try await withStandIn { server, port in
            let created = try await server.state.create(Self.pod("web-1"))
            try await withClient(port: port) { client in
                await #expect {
                    try await client.delete(V1Pod.self, namespace: "shop", name: "web-1", options: .init(gracePeriodSeconds: 5, uid: "someone-else"))
                } throws: { ($0 as? KubeClientError)?.httpCode == 409 }
                #expect(await server.state.deletions.isEmpty)

                try await client.delete(V1Pod.self, namespace: "shop", name: "web-1", options: .init(gracePeriodSeconds: 5, uid: created.metadata.uid))
                #expect(await server.state.deletions == [Deletion(resource: "pods", namespace: "shop", name: "web-1", gracePeriodSeconds: 5)])
                await #expect {
                    try await client.delete(V1Pod.self, namespace: "shop", name: "web-1")
                } throws: { ($0 as? KubeClientError)?.httpCode == 404 }
            }
        }
    }

    @Test("EndpointSlice controller: a relabelled pod leaves its Service's slice (new generation), joins it again when it matches, leaves it when deleted")
    func sliceController() async throws {
        var configuration = APIServerConfiguration.testing()
        configuration.endpointSliceController = true
        try await withStandIn(configuration) { server, port in
            try await server.state.create(
                V1Service(metadata: ObjectMeta(name: "web", namespace: "shop"), spec: .init(ports: [.init(port: 80)], selector: ["app": "web"])))
            try await server.state.create(Self.pod("web-1", ip: "10.0.0.5"))
            try await server.state.create(Self.pod("web-2", ip: "10.0.0.6"))
            let slice = try await server.state.create(
                V1EndpointSlice(
                    metadata: ObjectMeta(name: "web-1", namespace: "shop", labels: [V1EndpointSlice.serviceNameLabel: "web"]),
                    addressType: .ipv4,
                    endpoints: ["web-1": "10.0.0.5", "web-2": "10.0.0.6"].sorted { $0.key < $1.key }.map {
                        .init(addresses: [$0.value], conditions: .init(ready: true), targetRef: ObjectReference(kind: "Pod", namespace: "shop", name: $0.key))
                    }))
            func listed() async throws -> (pods: [String], generation: Int64?) {
                let now = try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1")
                return ((now.endpoints ?? []).compactMap { $0.targetRef?.name }.sorted(), now.metadata.generation)
            }
            try await withClient(port: port) { client in
                let out = try Self.json(["metadata": ["labels": ["app": "drained"]]])
                _ = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: out)
                let afterOut = try await listed()
                #expect(afterOut.pods == ["web-2"])
                #expect(afterOut.generation == (slice.metadata.generation ?? 0) + 1)

                let back = try Self.json(["metadata": ["labels": ["app": "web"]]])
                _ = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: back)
                #expect(try await listed().pods == ["web-1", "web-2"])
                let rejoined = try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1")
                let endpoint = rejoined.endpoints?.first { $0.targetRef?.name == "web-1" }
                #expect(endpoint?.addresses == ["10.0.0.5"])
                #expect(endpoint?.conditions?.ready == true)
                #expect(endpoint?.nodeName == "node-a")

                try await client.delete(V1Pod.self, namespace: "shop", name: "web-2")
                #expect(try await listed().pods == ["web-1"])
            }
        }
    }

    @Test("without the controller, pod writes leave slices as they are")
    func noControllerByDefault() async throws {
        try await withStandIn { server, port in
            try await server.state.create(
                V1Service(metadata: ObjectMeta(name: "web", namespace: "shop"), spec: .init(selector: ["app": "web"])))
            try await server.state.create(Self.pod("web-1"))
            let slice = try await server.state.create(
                V1EndpointSlice(
                    metadata: ObjectMeta(name: "web-1", namespace: "shop", labels: [V1EndpointSlice.serviceNameLabel: "web"]),
                    addressType: .ipv4,
                    endpoints: [.init(addresses: ["10.0.0.5"], targetRef: ObjectReference(kind: "Pod", namespace: "shop", name: "web-1"))]))
            try await withClient(port: port) { client in
                _ = try await client.patch(V1Pod.self, namespace: "shop", name: "web-1", patch: try Self.json(["metadata": ["labels": ["app": "x"]]]))
                #expect(try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1") == slice)
            }
        }
    }
}
