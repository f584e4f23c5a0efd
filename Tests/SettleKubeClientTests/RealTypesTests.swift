import SettleAPIServer
import SettleKube
import SettleKubeClient
import Testing

/// The informer with Settle's real typed objects, the way the agent will run it.
struct RealTypesTests {
    private func slice(_ name: String, service: String, ip: String, ready: Bool, labels: [String: String] = [:]) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(name: name, namespace: "default", labels: labels.merging([V1EndpointSlice.serviceNameLabel: service]) { a, _ in a }),
            addressType: .ipv4,
            endpoints: [.init(addresses: [ip], conditions: .init(ready: ready, serving: ready, terminating: !ready), nodeName: "node-a")],
            ports: [.init(name: "http", port: 8080)])
    }

    /// EndpointSlices through kube-proxy's selector: a pod turning terminating arrives as an update with a new generation.
    @Test("EndpointSlice informer with kube-proxy's selector sees a terminating endpoint as an update with a higher generation")
    func endpointSlices() async throws {
        try await withStandIn { server, port in
            let state = server.state
            let web = try await state.create(slice("web-1", service: "web", ip: "10.244.0.5", ready: true))
            try await state.create(slice("headless-1", service: "headless", ip: "10.244.0.6", ready: true,
                                         labels: ["service.kubernetes.io/headless": ""]))
            #expect(web.metadata.generation == 1)
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(V1EndpointSlice.self, client: client, selection: .kubeProxy))
                try await withInformer(informer) { recorder in
                    #expect(await informer.objects.map(\.key) == ["default/web-1"])
                    var terminating = web
                    terminating.endpoints?[0].conditions = .init(ready: false, serving: true, terminating: true)
                    let updated = try await state.update(terminating)
                    #expect(updated.metadata.generation == 2)
                    try await eventually("update") { await recorder.afterSync.count == 1 }
                    #expect(await recorder.afterSync == [.updated(old: web, new: updated)])
                }
            }
        }
    }

    /// One Node by field selector, as the agent watches its own node for its zone label.
    @Test("Node informer with metadata.name= sees only its node and its zone label change")
    func ownNode() async throws {
        try await withStandIn { server, port in
            let state = server.state
            try await state.create(V1Node(metadata: ObjectMeta(name: "node-a", labels: [V1Node.zoneLabel: "zone-a"])))
            let mine = try await state.create(V1Node(metadata: ObjectMeta(name: "node-b", labels: [V1Node.zoneLabel: "zone-a"])))
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(V1Node.self, client: client, selection: .named("node-b")))
                try await withInformer(informer) { recorder in
                    #expect(await informer.objects.map(\.key) == ["node-b"])
                    try await state.update(V1Node(metadata: ObjectMeta(name: "node-a", labels: [V1Node.zoneLabel: "zone-z"])))
                    var moved = mine
                    moved.metadata.labels = [V1Node.zoneLabel: "zone-b"]
                    let updated = try await state.update(moved)
                    try await eventually("update") { await recorder.afterSync.count == 1 }
                    #expect(await recorder.afterSync == [.updated(old: mine, new: updated)])
                    #expect(await informer.object(forKey: "node-b")?.zone == "zone-b")
                }
            }
        }
    }

    /// Services list through the client with kube-proxy's selector.
    @Test("Service list with kube-proxy's selector leaves out headless Services")
    func services() async throws {
        try await withStandIn { server, port in
            let state = server.state
            try await state.create(json: Fixtures.service("default", "web", clusterIP: "10.96.0.10"), in: .services)
            try await state.create(
                json: Fixtures.service("default", "headless", clusterIP: "None", labels: ["service.kubernetes.io/headless": ""]),
                in: .services)
            try await withClient(port: port) { client in
                let list = try await client.listAll(V1Service.self, selection: .kubeProxy)
                #expect(list.items.map(\.key) == ["default/web"])
                #expect(list.items.first?.spec.clusterIP == "10.96.0.10")
                #expect(list.resourceVersion == (await state.resourceVersion))
            }
        }
    }
}
