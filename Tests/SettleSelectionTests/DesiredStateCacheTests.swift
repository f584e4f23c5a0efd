import SettleKube
import SettleModel
import SettleSelection
import Testing

/// `DesiredStateCache`: incremental updates equal a full `DesiredState.compute`, and report exactly
/// what changed.
struct DesiredStateCacheTests {
    static let zoneA = NodeTopology(name: "node-1", labels: [V1Node.zoneLabel: "zone-a"])

    /// Applies random upserts and deletes and checks the cache against a full recompute after every step.
    @Test("equals a full recompute after every step of random upserts and deletes", arguments: Array(UInt64(1)...12))
    func randomSequences(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var world = RandomWorld()
        let options = SelectionOptions(preferSameTrafficDistribution: seed % 3 != 0)
        var node = world.node(using: &random)
        var cache = DesiredStateCache(node: node, options: options)
        var services: [String: V1Service] = [:]
        var slices: [String: V1EndpointSlice] = [:]
        var previous: [ServicePortKey: DesiredServicePort] = [:]
        var stepsWithEndpoints = 0

        for step in 0..<300 {
            let event = world.event(services: services, slices: slices, using: &random)
            switch event {
            case .serviceUpserted(let service): services[service.key] = service
            case .serviceDeleted(let service): services[service.key] = nil
            case .sliceUpserted(let slice): slices[slice.key] = slice
            case .sliceDeleted(let slice): slices[slice.key] = nil
            case .nodeChanged(let topology): node = topology
            }
            let changes = cache.apply(event)
            let expected = DesiredState.compute(
                services: Array(services.values), slices: Array(slices.values), node: node, options: options)
            let actual = cache.servicePorts
            if actual != expected {
                // Name the differing service ports only; whole values make unreadable failures.
                let differing = Set(actual.map(\.key)).union(expected.map(\.key)).filter { key in
                    actual.first { $0.key == key } != expected.first { $0.key == key }
                }
                Issue.record("seed \(seed), step \(step), after \(event): differs in \(differing.sorted())")
                return
            }

            // The reported changes turn the previous answer into the new one, and only real changes are reported.
            var patched = previous
            for change in changes {
                #expect(change.old == previous[change.key], "seed \(seed), step \(step): old side of \(change.key)")
                #expect(change.old != change.new, "seed \(seed), step \(step): no-op change for \(change.key)")
                patched[change.key] = change.new
            }
            let now = Dictionary(uniqueKeysWithValues: expected.map { ($0.key, $0) })
            #expect(patched == now, "seed \(seed), step \(step): changes do not explain the new state")
            #expect(changes == changes.sorted())
            previous = now
            if expected.contains(where: { !$0.endpoints.isEmpty }) { stepsWithEndpoints += 1 }
        }
        // The sequence must exercise non-trivial states, not just empty answers.
        #expect(stepsWithEndpoints > 90, "seed \(seed): only \(stepsWithEndpoints) steps had desired endpoints")
    }

    /// Building from lists in one batch gives the same answer as applying the same objects one by one.
    @Test("a batch build equals one-by-one application and a full recompute", arguments: Array(UInt64(100)...104))
    func batchEqualsSequential(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var world = RandomWorld()
        let services = (0..<8).map { _ in world.service(using: &random) }
        let slices = (0..<20).map { _ in world.slice(using: &random) }
        let batch = DesiredStateCache(services: services, slices: slices, node: Self.zoneA)
        var sequential = DesiredStateCache(node: Self.zoneA)
        for slice in slices { _ = sequential.apply(.sliceUpserted(slice)) }
        for service in services { _ = sequential.apply(.serviceUpserted(service)) }
        let expected = DesiredState.compute(services: services, slices: slices, node: Self.zoneA)
        #expect(batch.servicePorts == expected)
        #expect(sequential.servicePorts == expected)
    }

    /// A slice event reports changes for the Service its label names, and for no other Service.
    @Test("a slice update changes only the Service its service-name label names")
    func sliceUpdateIsScoped() {
        var cache = DesiredStateCache(
            services: [Build.service("web"), Build.service("api", clusterIPs: ["172.30.0.2"])],
            slices: [Build.slice("web-1", service: "web", Build.sliceEndpoint("10.0.0.1")),
                     Build.slice("api-1", service: "api", Build.sliceEndpoint("10.0.1.1"))],
            node: Self.zoneA)
        let changes = cache.apply(.sliceUpserted(
            Build.slice("web-1", service: "web", generation: 2, Build.sliceEndpoint("10.0.0.1"), Build.sliceEndpoint("10.0.0.2"))))
        #expect(changes.map(\.key.description) == ["ns/web:http/TCP"])
        #expect(changes.first?.addedAddresses.map(\.description) == ["10.0.0.2:8080"])
        #expect(changes.first?.removedAddresses == [])
        #expect(cache.servicePorts(ofService: "ns/api").first?.endpoints.map(\.address.description) == ["10.0.1.1:8080"])
    }

    /// Relabelling a slice to another Service takes its endpoints from the first and gives them to the second.
    @Test("a slice whose service-name label moves changes both Services")
    func sliceMovesBetweenServices() {
        var cache = DesiredStateCache(
            services: [Build.service("web"), Build.service("api", clusterIPs: ["172.30.0.2"])],
            slices: [Build.slice("shared", service: "web", Build.sliceEndpoint("10.0.0.1"))], node: Self.zoneA)
        let changes = cache.apply(.sliceUpserted(Build.slice("shared", service: "api", Build.sliceEndpoint("10.0.0.1"))))
        #expect(changes.map(\.key.description) == ["ns/api:http/TCP", "ns/web:http/TCP"])
        #expect(changes[0].addedAddresses.map(\.description) == ["10.0.0.1:8080"])
        #expect(changes[1].removedAddresses.map(\.description) == ["10.0.0.1:8080"])
    }

    /// Only the slice generation changed: still a change, because acknowledgements are judged by generation.
    @Test("a new slice generation with the same endpoints is reported (freshness)")
    func generationOnlyChange() {
        var cache = DesiredStateCache(
            services: [Build.service()], slices: [Build.slice("a", generation: 1, Build.sliceEndpoint("10.0.0.1"))],
            node: Self.zoneA)
        let changes = cache.apply(.sliceUpserted(Build.slice("a", generation: 2, Build.sliceEndpoint("10.0.0.1"))))
        #expect(changes.count == 1)
        #expect(changes.first?.addedAddresses == [] && changes.first?.removedAddresses == [])
        #expect(changes.first?.new?.endpoints.first?.slice.generation == 2)
        #expect(cache.apply(.sliceUpserted(Build.slice("a", generation: 2, Build.sliceEndpoint("10.0.0.1")))) == [])
    }

    /// Slices that arrive before their Service are kept and used when it arrives.
    @Test("slices seen before their Service count once the Service arrives")
    func slicesBeforeService() {
        var cache = DesiredStateCache(node: Self.zoneA)
        #expect(cache.apply(.sliceUpserted(Build.slice("a", Build.sliceEndpoint("10.0.0.1")))) == [])
        let changes = cache.apply(.serviceUpserted(Build.service()))
        #expect(changes.map { $0.old == nil } == [true])
        #expect(changes.first?.newEndpoints.map(\.address.description) == ["10.0.0.1:8080"])
        let deleted = cache.apply(.serviceDeleted(Build.service()))
        #expect(deleted.map { $0.new == nil } == [true])
        #expect(cache.servicePorts == [])
        #expect(cache.slices.count == 1)
    }

    /// A zone change can change topology-hinted endpoints of any Service, so all are recomputed.
    @Test("a node label change recomputes every Service")
    func nodeChangeRecomputesAll() {
        let hinted = { (name: String, ip: String) in
            [Build.slice("\(name)-1", service: name, Build.sliceEndpoint("\(ip).1", zone: "zone-a", forZones: ["zone-a"]),
                         Build.sliceEndpoint("\(ip).2", zone: "zone-b", forZones: ["zone-b"]))]
        }
        var cache = DesiredStateCache(
            services: [Build.service("web"), Build.service("api", clusterIPs: ["172.30.0.2"])],
            slices: hinted("web", "10.0.0") + hinted("api", "10.0.1"), node: Self.zoneA)
        #expect(cache.servicePorts.map { $0.endpoints.map(\.address.description) } == [["10.0.1.1:8080"], ["10.0.0.1:8080"]])
        let changes = cache.apply(.nodeChanged(NodeTopology(name: "node-1", labels: [V1Node.zoneLabel: "zone-b"])))
        #expect(changes.map(\.key.description) == ["ns/api:http/TCP", "ns/web:http/TCP"])
        #expect(changes.map { $0.newEndpoints.map(\.address.description) } == [["10.0.1.2:8080"], ["10.0.0.2:8080"]])
        #expect(cache.apply(.nodeChanged(cache.node)) == [])
    }

    /// Deleting something the cache never saw is not an error and changes nothing.
    @Test("deleting unknown objects changes nothing")
    func deleteUnknown() {
        var cache = DesiredStateCache(
            services: [Build.service()], slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1"))], node: Self.zoneA)
        let before = cache.servicePorts
        #expect(cache.apply(.sliceDeleted(Build.slice("zzz"))) == [])
        #expect(cache.apply(.serviceDeleted(Build.service("zzz"))) == [])
        #expect(cache.servicePorts == before)
    }
}

/// A small, seeded PRNG (SplitMix64): the same seed gives the same sequence on every platform.

/// Random Services, slices and node changes over a small name space, so that keys collide, slices
/// move between Services, duplicates appear across slices and every selection rule gets exercised.
struct RandomWorld {
    static let namespaces = ["a", "b"]
    static let serviceNames = ["s0", "s1", "s2", "s3"]
    static let sliceNames = (0..<8).map { "e\($0)" }
    static let zones = ["zone-a", "zone-b", "zone-c"]
    static let nodes = ["node-1", "node-2", "node-3"]
    var generation: Int64 = 0

    /// A node with a random name and zone; one in five has no zone label.
    func node(using random: inout SplitMix64) -> NodeTopology {
        let zone = Self.zones.randomElement(using: &random)!
        let name = Self.nodes[Int.random(in: 0..<2, using: &random)]
        let unlabelled = Int.random(in: 0..<5, using: &random) == 0
        return NodeTopology(name: name, labels: unlabelled ? [:] : [V1Node.zoneLabel: zone])
    }

    mutating func event(
        services: [String: V1Service], slices: [String: V1EndpointSlice], using random: inout SplitMix64
    ) -> DesiredStateCache.Event {
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<22: return .serviceUpserted(service(using: &random))
        case 22..<30:
            let victim = services.values.sorted { $0.key < $1.key }.randomElement(using: &random) ?? service(using: &random)
            return .serviceDeleted(victim)
        case 30..<80: return .sliceUpserted(slice(using: &random))
        case 80..<95:
            let victim = slices.values.sorted { $0.key < $1.key }.randomElement(using: &random) ?? slice(using: &random)
            return .sliceDeleted(victim)
        default: return .nodeChanged(node(using: &random))
        }
    }

    func service(using random: inout SplitMix64) -> V1Service {
        let name = Self.serviceNames.randomElement(using: &random)!
        let index = Self.serviceNames.firstIndex(of: name)!
        let v4 = "172.30.0.\(index + 1)", v6 = "fd00:30::\(index + 1)"
        let clusterIPs = [[v4], [v4], [v4], [v6], [v4, v6], [v6, v4], ["None"]].randomElement(using: &random)!
        let type: V1Service.ServiceType = [.clusterIP, .clusterIP, .clusterIP, .nodePort, .loadBalancer, .externalName].randomElement(using: &random)!
        var ports: [V1Service.ServicePort] = [.init(name: "http", port: 80, nodePort: type == .clusterIP ? nil : 30080)]
        if Bool.random(using: &random) { ports.append(.init(name: "dns", protocol: .udp, port: 53)) }
        if Int.random(in: 0..<6, using: &random) == 0 { ports = [.init(port: 80)] }
        var labels: [String: String]? = nil
        switch Int.random(in: 0..<10, using: &random) {
        case 0: labels = [ProxyLabelSelector.serviceProxyNameLabel: "other"]
        case 1: labels = [ProxyLabelSelector.headlessLabel: ""]
        default: break
        }
        let policy = { (r: inout SplitMix64) -> V1Service.TrafficPolicy? in [nil, .cluster, .local].randomElement(using: &r)! }
        let internalPolicy = policy(&random)
        let externalPolicy = policy(&random)
        let externalIPs: [String]? = Int.random(in: 0..<4, using: &random) == 0 ? ["192.0.2.\(index + 1)"] : nil
        var ingress: [V1Service.LoadBalancerIngress]? = nil
        if type == .loadBalancer {
            ingress = [.init(ip: "198.51.100.\(index + 1)", ipMode: ["VIP", "Proxy", nil].randomElement(using: &random)!)]
        }
        return V1Service(
            metadata: ObjectMeta(
                name: name, namespace: Self.namespaces.randomElement(using: &random)!, uid: "uid-\(name)", labels: labels),
            spec: .init(
                type: type, clusterIP: clusterIPs.first, clusterIPs: clusterIPs,
                ipFamilies: clusterIPs.map { $0 == "None" ? "IPv4" : ($0.contains(":") ? "IPv6" : "IPv4") },
                ports: ports, externalIPs: externalIPs, internalTrafficPolicy: internalPolicy,
                externalTrafficPolicy: externalPolicy),
            status: ingress.map { .init(loadBalancer: .init(ingress: $0)) })
    }

    mutating func slice(using random: inout SplitMix64) -> V1EndpointSlice {
        generation += 1
        let family = Int.random(in: 0..<10, using: &random)
        let addressType: V1EndpointSlice.AddressType = family < 7 ? .ipv4 : (family < 9 ? .ipv6 : .fqdn)
        var labels: [String: String] = [:]
        switch Int.random(in: 0..<12, using: &random) {
        case 0: break  // no service-name label
        case 1: labels[V1EndpointSlice.serviceNameLabel] = "missing"
        case 2: labels[ProxyLabelSelector.headlessLabel] = ""
            labels[V1EndpointSlice.serviceNameLabel] = Self.serviceNames.randomElement(using: &random)!
        default: labels[V1EndpointSlice.serviceNameLabel] = Self.serviceNames.randomElement(using: &random)!
        }
        var ports: [V1EndpointSlice.EndpointPort] = []
        if Int.random(in: 0..<8, using: &random) != 0 { ports.append(.init(name: "http", protocol: .tcp, port: 8080)) }
        if Bool.random(using: &random) { ports.append(.init(name: "dns", protocol: .udp, port: 5353)) }
        switch Int.random(in: 0..<8, using: &random) {
        case 0: ports.append(.init(name: "", port: 8081))
        case 1: ports.append(.init(name: nil, port: 8082))
        case 2: ports.append(.init(name: "http", protocol: .tcp, port: nil))
        default: break
        }
        let endpoints = (0..<Int.random(in: 0...4, using: &random)).map { _ in endpoint(addressType, using: &random) }
        let name = Self.sliceNames.randomElement(using: &random)!
        return V1EndpointSlice(
            metadata: ObjectMeta(
                name: name, namespace: Self.namespaces.randomElement(using: &random)!, uid: "uid-\(name)",
                generation: generation, labels: labels),
            addressType: addressType, endpoints: endpoints, ports: ports)
    }

    func endpoint(_ type: V1EndpointSlice.AddressType, using random: inout SplitMix64) -> V1EndpointSlice.Endpoint {
        let host = Int.random(in: 1...5, using: &random)
        let address: String
        switch type {
        case .ipv4: address = Int.random(in: 0..<20, using: &random) == 0 ? "fd00::\(host)" : "10.0.0.\(host)"
        case .ipv6: address = "fd00::\(host)"
        default: address = "pod-\(host).example.com"
        }
        let flag = { (r: inout SplitMix64) -> Bool? in [nil, true, false].randomElement(using: &r)! }
        let conditions: V1EndpointSlice.Conditions? =
            Int.random(in: 0..<5, using: &random) == 0
            ? nil : .init(ready: flag(&random), serving: flag(&random), terminating: flag(&random))
        let zone = Self.zones.randomElement(using: &random)!
        var hints: V1EndpointSlice.Hints? = nil
        switch Int.random(in: 0..<4, using: &random) {
        case 0: hints = .init(forZones: [.init(name: zone)])
        case 1: hints = .init(forZones: [.init(name: zone)], forNodes: [.init(name: Self.nodes.randomElement(using: &random)!)])
        default: break
        }
        return V1EndpointSlice.Endpoint(
            addresses: Int.random(in: 0..<15, using: &random) == 0 ? [] : [address],
            conditions: conditions, targetRef: ObjectReference(kind: "Pod", name: "pod-\(host)"),
            nodeName: Int.random(in: 0..<6, using: &random) == 0 ? nil : Self.nodes.randomElement(using: &random)!,
            zone: zone, hints: hints)
    }
}
