import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SettleKube
import SettleAPIServer
import Testing

/// The stand-in's own semantics, checked over HTTP where a client would see them.
struct APIServerTests {
    private func request(_ client: HTTPClient, _ method: HTTPMethod, _ url: String, body: JSONValue? = nil) async throws
        -> (status: Int, body: JSONValue)
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(bytes: body.encoded())) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONValue.decode(Data(bytes.readableBytesView))) ?? .null)
    }

    private func withHTTPClient<R: Sendable>(_ body: (HTTPClient) async throws -> R) async throws -> R {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// POST, PUT and DELETE over HTTP; a stale resourceVersion is a 409; generation follows the EndpointSlice strategy.
    @Test("HTTP writes: create 201, stale PUT 409, generation bumps on spec and label changes only, delete")
    func httpWrites() async throws {
        try await withStandIn { server, port in
            try await withHTTPClient { http in
                let base = "http://127.0.0.1:\(port)/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                let created = try await request(http, .POST, base, body: Fixtures.endpointSlice("default", "s", service: "web", ips: ["10.0.0.1"]))
                #expect(created.status == 201)
                #expect(created.body.string(atPath: "metadata.generation") == "1")
                let duplicate = try await request(http, .POST, base, body: created.body)
                #expect(duplicate.status == 409)

                var annotated = created.body
                annotated["metadata"]?["annotations"] = .object(["note": "x"])
                let afterAnnotation = try await request(http, .PUT, "\(base)/s", body: annotated)
                #expect(afterAnnotation.status == 200)
                #expect(afterAnnotation.body.string(atPath: "metadata.generation") == "1")
                let stale = try await request(http, .PUT, "\(base)/s", body: annotated)
                #expect(stale.status == 409)
                #expect(stale.body.string(atPath: "reason") == "Conflict")

                var relabelled = afterAnnotation.body
                relabelled["metadata"]?["labels"]?["extra"] = "y"
                let afterLabel = try await request(http, .PUT, "\(base)/s", body: relabelled)
                #expect(afterLabel.body.string(atPath: "metadata.generation") == "2")

                var respecced = afterLabel.body
                respecced["addressType"] = "IPv6"
                let afterSpec = try await request(http, .PUT, "\(base)/s", body: respecced)
                #expect(afterSpec.body.string(atPath: "metadata.generation") == "3")

                let deleted = try await request(http, .DELETE, "\(base)/s")
                #expect(deleted.status == 200)
                let missing = try await request(http, .GET, "\(base)/s")
                #expect(missing.status == 404)
                #expect(missing.body.string(atPath: "kind") == "Status")
            }
        }
    }

    /// An update that changes nothing does not bump the resourceVersion or produce an event.
    @Test("a no-op update keeps the resourceVersion")
    func noOpUpdate() async throws {
        try await withStandIn { server, _ in
            let created = try await server.state.create(Widget("ns", "w"))
            let again = try await server.state.update(created)
            #expect(again.metadata.resourceVersion == created.metadata.resourceVersion)
        }
    }

    /// Seeding by apiVersion/kind files each object under its resource; unknown kinds are refused.
    @Test("create(json:) picks the resource from apiVersion and kind")
    func createByKind() async throws {
        try await withStandIn { server, _ in
            try await server.state.create(json: Fixtures.endpointSlice("default", "s", service: "web", ips: ["10.0.0.1"]))
            let slice = try await server.state.get(V1EndpointSlice.self, namespace: "default", name: "s")
            #expect(slice.metadata.generation == 1)
            await #expect(throws: StoreError.self) {
                try await server.state.create(json: .object(["apiVersion": "v9", "kind": "Nope", "metadata": .object(["name": "x"])]))
            }
        }
    }

    /// A watcher whose selector stops matching an object gets DELETED; matching again gets ADDED.
    @Test("watch: modified out of the selector is DELETED, back in is ADDED")
    func selectorTransitions() async throws {
        try await withStandIn { server, port in
            let state = server.state
            var widget = try await state.create(Widget("ns", "w"))
            let rv = widget.metadata.resourceVersion ?? ""
            widget.metadata.labels = ["service.kubernetes.io/headless": ""]
            widget = try await state.update(widget)
            widget.metadata.labels = [:]
            widget = try await state.update(widget)
            // The line-oriented body is not one JSON document, so read it raw.
            try await withHTTPClient { http in
                let selector = "%21service.kubernetes.io%2Fheadless"
                let url = "http://127.0.0.1:\(port)/apis/test.settle.dev/v1/widgets?watch=true&resourceVersion=\(rv)&labelSelector=\(selector)&timeoutSeconds=1"
                let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 20)
                let types = String(buffer: body).split(separator: "\n").map { line in
                    (try? JSONValue.decode(Data(line.utf8)))?.string(atPath: "type") ?? "?"
                }
                #expect(types == ["DELETED", "ADDED"])
            }
        }
    }

    /// Watching from an RV older than the retained history is 410, as an ERROR event or HTTP status.
    @Test("expired resourceVersion: ERROR event with a 410 Status, or HTTP 410")
    func expired() async throws {
        try await withStandIn { server, port in
            let state = server.state
            let first = try await state.create(Widget("ns", "a"))
            try await state.create(Widget("ns", "b"))
            await state.setHistoryLimit(1)
            try await state.create(Widget("ns", "c"))
            let url = "http://127.0.0.1:\(port)/apis/test.settle.dev/v1/widgets?watch=true&resourceVersion=\(first.metadata.resourceVersion ?? "")"
            try await withHTTPClient { http in
                let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
                #expect(response.status == .ok)
                let body = try await response.body.collect(upTo: 1 << 20)
                let event = try JSONValue.decode(Data(body.readableBytesView))
                #expect(event.string(atPath: "type") == "ERROR")
                #expect(event.string(atPath: "object.code") == "410")
                #expect(event.string(atPath: "object.reason") == "Expired")

                await state.setGoneMode(.httpStatus)
                let gone = try await request(http, .GET, url)
                #expect(gone.status == 410)
                #expect(gone.body.string(atPath: "code") == "410")
            }
        }
    }

    /// Discovery documents list the served resources.
    @Test("discovery: /api, /apis, /api/v1, /apis/discovery.k8s.io/v1 and /version")
    func discovery() async throws {
        try await withStandIn { _, port in
            try await withHTTPClient { http in
                let base = "http://127.0.0.1:\(port)"
                #expect(try await request(http, .GET, "\(base)/version").body.string(atPath: "major") == "1")
                #expect(try await request(http, .GET, "\(base)/api").body.string(atPath: "kind") == "APIVersions")
                let groups = try await request(http, .GET, "\(base)/apis").body
                #expect(groups.string(atPath: "kind") == "APIGroupList")
                let core = try await request(http, .GET, "\(base)/api/v1").body
                guard case .array(let resources)? = core["resources"] else { Issue.record("no resources"); return }
                #expect(Set(resources.compactMap { $0.string(atPath: "name") }).isSuperset(of: ["services", "nodes"]))
                let slices = try await request(http, .GET, "\(base)/apis/discovery.k8s.io/v1").body
                #expect(slices.string(atPath: "groupVersion") == "discovery.k8s.io/v1")
                #expect(try await request(http, .GET, "\(base)/apis/nope.example/v1").status == 404)
            }
        }
    }
}
