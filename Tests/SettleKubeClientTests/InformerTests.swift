import SettleAPIServer
import SettleKube
import SettleKubeClient
import Testing

/// The informer against the stand-in over real HTTP: list, watch, and the deltas it reports.
struct InformerTests {
    /// The first list fills the cache and is followed by exactly one `synced`.
    @Test("initial list fills the cache and reports synced once")
    func initialList() async throws {
        try await withStandIn { server, port in
            try await server.state.create(Widget("a", "w1"))
            try await server.state.create(Widget("b", "w2"))
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client))
                try await withInformer(informer) { recorder in
                    let events = await recorder.events
                    #expect(events.count == 3)
                    #expect(events.last == .synced)
                    #expect(await informer.objects.map(\.key) == ["a/w1", "b/w2"])
                    #expect(await informer.hasSynced)
                }
            }
        }
    }

    /// Watch events after the list become add, update (with old and new) and delete.
    @Test("watch add, modify and delete become informer events with old and new objects")
    func watchAddModifyDelete() async throws {
        try await withStandIn { server, port in
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client))
                try await withInformer(informer) { recorder in
                    let created = try await server.state.create(Widget("ns", "w", spec: ["v": "1"]))
                    var changed = created
                    changed.spec = ["v": "2"]
                    let updated = try await server.state.update(changed)
                    let deleted = try await server.state.delete(Widget.self, namespace: "ns", name: "w")
                    try await eventually("three events") { await recorder.afterSync.count >= 3 }
                    let events = await recorder.afterSync
                    #expect(events == [
                        .added(created), .updated(old: created, new: updated), .deleted(deleted, finalStateUnknown: false),
                    ])
                    #expect(await informer.objects.isEmpty)
                }
            }
        }
    }

    /// The label selector kube-proxy uses is sent and honoured; the field selector picks one object.
    @Test("label and field selectors restrict what is listed and watched")
    func selectors() async throws {
        try await withStandIn { server, port in
            try await server.state.create(Widget("ns", "plain"))
            try await server.state.create(Widget("ns", "headless", labels: ["service.kubernetes.io/headless": ""]))
            try await server.state.create(Widget("ns", "other-proxy", labels: ["service.kubernetes.io/service-proxy-name": "x"]))
            try await server.state.create(Gadget("node-a"))
            try await server.state.create(Gadget("node-b"))
            try await withClient(port: port) { client in
                let widgets = Informer(reflector: makeReflector(Widget.self, client: client, selection: .kubeProxy))
                try await withInformer(widgets) { recorder in
                    #expect(await widgets.objects.map(\.key) == ["ns/plain"])
                    try await server.state.create(Widget("ns", "later-headless", labels: ["service.kubernetes.io/headless": ""]))
                    let later = try await server.state.create(Widget("ns", "later"))
                    try await eventually("later added") { await recorder.afterSync.count >= 1 }
                    #expect(await recorder.afterSync == [.added(later)])
                }
                let requests = await server.state.recordedRequests.filter { $0.path.hasSuffix("/widgets") }
                #expect(requests.allSatisfy { $0.query["labelSelector"] == ResourceSelection.kubeProxyLabelSelector })
                #expect(requests.contains { $0.isWatch && $0.query["allowWatchBookmarks"] == "true" })

                let gadgets = Informer(reflector: makeReflector(Gadget.self, client: client, selection: .named("node-b")))
                try await withInformer(gadgets) { recorder in
                    #expect(await gadgets.objects.map(\.key) == ["node-b"])
                    var changed = try #require(await gadgets.object(forKey: "node-b"))
                    changed.zone = "z1"
                    try await server.state.update(Gadget("node-a", zone: "z9"))
                    let updated = try await server.state.update(changed)
                    try await eventually("node-b updated") { await recorder.afterSync.count >= 1 }
                    #expect(await recorder.afterSync.map(\.newObject?.key) == ["node-b"])
                    #expect(await gadgets.object(forKey: "node-b") == updated)
                }
            }
        }
    }

    /// A paginated list (limit/continue) yields the same complete snapshot.
    @Test("paginated list follows continue tokens to a complete snapshot")
    func pagination() async throws {
        try await withStandIn { server, port in
            for index in 0..<7 { try await server.state.create(Widget("ns", "w\(index)")) }
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client, pageSize: 3))
                try await withInformer(informer) { _ in
                    #expect(await informer.objects.count == 7)
                }
            }
            let lists = await server.state.recordedRequests.filter { !$0.isWatch && $0.path.hasSuffix("/widgets") }
            #expect(lists.count == 3)
            #expect(lists.dropFirst().allSatisfy { $0.query["continue"] != nil })
        }
    }
}

extension InformerEvent {
    var newObject: T? {
        switch self {
        case .added(let object), .updated(_, let object), .deleted(let object, _): object
        case .synced: nil
        }
    }
}
