import SettleConvergence
import SettleKube
import SettleModel
import SettleSelection
import Testing

/// `NodeConvergence`: the incremental core must always agree with the one-shot evaluation, and
/// report the transitions and latencies the agent publishes.
struct NodeConvergenceTests {
    typealias Tick = TransitionTrackerTests.Tick
    static let node = NodeTopology(name: "node-a")

    static func service(_ name: String, index: Int) -> V1Service {
        V1Service(
            metadata: ObjectMeta(name: name, namespace: "shop", uid: "uid-svc-\(name)"),
            spec: .init(
                type: .clusterIP, clusterIP: "172.30.0.\(index)", clusterIPs: ["172.30.0.\(index)"], ipFamilies: ["IPv4"],
                ports: [.init(name: "http", port: 80)]))
    }

    static func slice(_ service: String, generation: Int64, _ endpoints: [(ip: String, ready: Bool, terminating: Bool)]) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(
                name: "\(service)-1", namespace: "shop", uid: "uid-\(service)-1", generation: generation,
                labels: [V1EndpointSlice.serviceNameLabel: service]),
            addressType: .ipv4,
            endpoints: endpoints.map {
                .init(addresses: [$0.ip], conditions: .init(ready: $0.ready, serving: $0.ready || $0.terminating, terminating: $0.terminating),
                      targetRef: ObjectReference(kind: "Pod", namespace: "shop", name: "pod-\($0.ip)"))
            },
            ports: [.init(name: "http", protocol: .tcp, port: 8080)])
    }

    static func routed(_ service: String, _ ips: [String]) -> RoutedServicePort {
        RoutedServicePort(
            name: ServicePortName(namespace: "shop", name: service, port: "http"), protocol: .tcp, frontends: [],
            endpoints: ips.map { EndpointAddress(ip: IPAddress($0)!, port: 8080) })
    }

    static func key(_ service: String, _ ip: String) -> EndpointStatus.Key {
        EndpointStatus.Key(
            servicePort: ServicePortName(namespace: "shop", name: service, port: "http"), protocol: .tcp,
            address: EndpointAddress(ip: IPAddress(ip)!, port: 8080))
    }

    /// Random API events and dataplane changes, applied incrementally; after each, the core's report
    /// must equal a from-scratch evaluation of the same inputs.
    @Test("after every input, the incremental report equals a one-shot evaluation", arguments: [UInt64(1), 2, 3, 4])
    func agreesWithOneShot(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let services = ["web", "api", "db"]
        var core = NodeConvergence<Tick>(node: Self.node, retention: .seconds(30))
        var routedNow: [String: RoutedServicePort] = [:]
        var generation: Int64 = 1
        _ = core.applyDesired(services.enumerated().map { .serviceUpserted(Self.service($1, index: $0 + 1)) }, now: .init(seconds: 0), wallNow: 0)
        _ = core.replaceRouted(DataplaneSnapshot(mode: .nftables, servicePorts: []), now: .init(seconds: 0), wallNow: 0)
        _ = core.start(now: .init(seconds: 0), wallNow: 0)

        for step in 1...300 {
            let now = Tick(seconds: Int64(step))
            let service = services.randomElement(using: &random)!
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                generation += 1
                let endpoints = (1...5).filter { _ in Bool.random(using: &random) }.map { host in
                    (ip: "10.0.\(services.firstIndex(of: service)!).\(host)", ready: Int.random(in: 0..<3, using: &random) > 0,
                     terminating: Int.random(in: 0..<3, using: &random) == 0)
                }
                _ = core.applyDesired([.sliceUpserted(Self.slice(service, generation: generation, endpoints))], now: now, wallNow: Double(step))
            case 5:
                _ = core.applyDesired([.sliceDeleted(Self.slice(service, generation: generation, []))], now: now, wallNow: Double(step))
            case 6..<9:
                let ips = (1...5).filter { _ in Bool.random(using: &random) }.map { "10.0.\(services.firstIndex(of: service)!).\($0)" }
                let port = Bool.random(using: &random) || ips.isEmpty ? nil : Self.routed(service, ips)
                routedNow[service] = port
                _ = core.applyRouted(changed: [Self.routed(service, []).identity: port], now: now, wallNow: Double(step))
            default:
                let ports = routedNow.values.sorted()
                _ = core.replaceRouted(DataplaneSnapshot(mode: .nftables, servicePorts: ports), now: now, wallNow: Double(step))
            }
            let expected = Convergence.evaluate(
                desired: core.desired.servicePorts, routed: DataplaneSnapshot(mode: .nftables, servicePorts: Array(routedNow.values)))
            #expect(core.report() == expected, "step \(step)")
            for state in EndpointState.allCases {
                #expect((core.counts[state] ?? 0) == expected.count(state), "step \(step) \(state)")
            }
            #expect(core.fallbackCount == expected.fallbackCount)
            #expect(core.divergent() == expected.divergent, "step \(step)")
        }
    }

    /// The preStop flow through the core: terminating → stale while routed → drained, with the
    /// latency measured from the slice's trigger time.
    @Test("a terminating endpoint goes stale, then drained when the dataplane drops it; the latency starts at the trigger")
    func drainFlow() throws {
        var core = NodeConvergence<Tick>(node: Self.node, retention: .seconds(30))
        _ = core.applyDesired(
            [.serviceUpserted(Self.service("web", index: 1)),
             .sliceUpserted(Self.slice("web", generation: 1, [("10.0.0.1", true, false), ("10.0.0.2", true, false)]))],
            now: .init(seconds: 0), wallNow: 100)
        _ = core.replaceRouted(
            DataplaneSnapshot(mode: .nftables, servicePorts: [Self.routed("web", ["10.0.0.1", "10.0.0.2"])]), now: .init(seconds: 0), wallNow: 100)
        let baseline = core.start(now: .init(seconds: 0), wallNow: 100)
        #expect(baseline.update.changed.isEmpty && core.converged)

        // 10.0.0.2 becomes terminating; the slice says the change was triggered at wall time 101.
        let terminating = core.applyDesired(
            [.sliceUpserted(Self.slice("web", generation: 2, [("10.0.0.1", true, false), ("10.0.0.2", false, true)]))],
            triggers: ["uid-web-1": 101], now: .init(seconds: 2), wallNow: 102)
        let stale = try #require(terminating.update.changed.first)
        #expect(stale.status.state == .stale && stale.change == .removed && stale.status.slice?.generation == 2)
        #expect(terminating.latencies.isEmpty && !core.converged)

        // The dataplane drops it: drained, 2.5 s after the trigger.
        let drained = core.applyRouted(changed: [Self.routed("web", []).identity: Self.routed("web", ["10.0.0.1"])], now: .init(seconds: 3), wallNow: 103.5)
        #expect(drained.update.changed.map(\.status.state) == [.drained])
        #expect(drained.latencies == [2.5])
        #expect(core.converged && core.counts[.drained] == 1 && core.counts[.programmed] == 1)

        // Retention: gone 30 s after it converged.
        #expect(core.tick(now: .init(seconds: 33)).update.expired == [Self.key("web", "10.0.0.2")])
    }

    /// An endpoint removed from its slice while still routed is stale under `notInSlices`, then a
    /// drained tombstone that names the slice generation that removed it.
    @Test("an endpoint removed from its slice is stale, then a drained tombstone with the removing generation")
    func tombstone() throws {
        var core = NodeConvergence<Tick>(node: Self.node, retention: .seconds(30))
        _ = core.applyDesired(
            [.serviceUpserted(Self.service("web", index: 1)),
             .sliceUpserted(Self.slice("web", generation: 4, [("10.0.0.1", true, false), ("10.0.0.2", true, false)]))],
            now: .init(seconds: 0), wallNow: 0)
        _ = core.replaceRouted(
            DataplaneSnapshot(mode: .nftables, servicePorts: [Self.routed("web", ["10.0.0.1", "10.0.0.2"])]), now: .init(seconds: 0), wallNow: 0)
        _ = core.start(now: .init(seconds: 0), wallNow: 0)

        let removed = core.applyDesired(
            [.sliceUpserted(Self.slice("web", generation: 5, [("10.0.0.1", true, false)]))], now: .init(seconds: 1), wallNow: 1)
        let stale = try #require(removed.update.changed.first)
        #expect(stale.status.state == .stale && stale.status.reason == .notInSlices && stale.change == .tombstone)
        #expect(stale.status.slice?.generation == 5)

        let gone = core.applyRouted(changed: [Self.routed("web", []).identity: Self.routed("web", ["10.0.0.1"])], now: .init(seconds: 2), wallNow: 2)
        let tombstone = try #require(gone.update.changed.first)
        #expect(tombstone.status.state == .drained && tombstone.change == .tombstone && tombstone.status.slice?.generation == 5)
        #expect(tombstone.status.targetRef == "shop/pod-10.0.0.2")
        #expect(gone.latencies == [1])
    }

    /// Nothing is judged before `start`: the first list and read are the baseline.
    @Test("inputs before start are stored, not judged")
    func nothingBeforeStart() {
        var core = NodeConvergence<Tick>(node: Self.node, retention: .seconds(30))
        let step = core.applyDesired(
            [.serviceUpserted(Self.service("web", index: 1)), .sliceUpserted(Self.slice("web", generation: 1, [("10.0.0.1", true, false)]))],
            now: .init(seconds: 0), wallNow: 0)
        #expect(step.update.changed.isEmpty && core.report().endpoints.isEmpty && !core.isStarted)
        let start = core.start(now: .init(seconds: 1), wallNow: 1)
        #expect(start.update.changed.map(\.status.state) == [.missing])
        #expect(start.update.changed.first?.change == .divergent)
    }
}
