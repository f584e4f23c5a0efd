import SettleConvergence
import SettleKube
import SettleModel
import SettleSelection
import Testing

/// `Convergence.evaluate`: brief §2's desired × routed table, fallback, excluded and unknown
/// endpoints, protocols and IP families.
struct ConvergenceTests {
    typealias F = Fixture

    struct Cell: Sendable, CustomTestStringConvertible {
        var desired: Bool
        var routed: Bool
        var state: EndpointState
        var reason: EndpointStatus.Reason
        var testDescription: String { "desired \(desired), routed \(routed) → \(state)" }
    }

    /// Each cell of the §2 table, for an endpoint listed in a slice of a service port the dataplane knows.
    @Test(
        "every cell of the desired × routed table",
        arguments: [
            Cell(desired: true, routed: true, state: .programmed, reason: .desiredAndRouted),
            Cell(desired: true, routed: false, state: .missing, reason: .notRouted),
            Cell(desired: false, routed: true, state: .stale, reason: .terminating),
            Cell(desired: false, routed: false, state: .drained, reason: .terminating),
        ])
    func table(cell: Cell) throws {
        let target = F.endpoint(
            "10.0.0.2:8080", ready: cell.desired, terminating: !cell.desired, path: cell.desired ? .cluster : .none)
        let other = F.endpoint("10.0.0.1:8080")
        let routed = ["10.0.0.1:8080"] + (cell.routed ? ["10.0.0.2:8080"] : [])
        let report = Convergence.evaluate(desired: [F.desired([other, target])], routed: F.snapshot([F.routed(routed)]))
        #expect(report.endpoints.count == 2)
        let status = try #require(report.endpoints.first { $0.address == F.address("10.0.0.2:8080") })
        #expect(status.state == cell.state)
        #expect(status.reason == cell.reason)
        #expect(status.fallback == false)
        #expect(status.slice == F.slice)
        #expect(status.servicePort == F.web && status.protocol == .tcp)
        #expect(report.converged == cell.state.isConverged)
        #expect(EndpointState(desired: cell.desired, routed: cell.routed) == cell.state)
    }

    /// The last serving endpoint, terminating, is kept by kube-proxy on purpose: programmed, with fallback.
    @Test("a routed endpoint desired only through the terminating fallback is programmed with fallback: true")
    func fallbackProgrammed() throws {
        let last = F.endpoint("10.0.0.1:8080", ready: false, terminating: true, path: .cluster)
        let report = Convergence.evaluate(desired: [F.desired([last])], routed: F.snapshot([F.routed(["10.0.0.1:8080"])]))
        let status = try #require(report.endpoints.first)
        #expect(status.state == .programmed && status.fallback)
        #expect(report.converged)
        #expect(report.fallbackCount == 1)
    }

    /// Fallback describes why a routed endpoint is kept; one that is not routed is simply missing.
    @Test("a fallback endpoint that is not routed is missing, without the fallback mark")
    func fallbackMissing() throws {
        let last = F.endpoint("10.0.0.1:8080", ready: false, terminating: true, path: .both)
        let report = Convergence.evaluate(desired: [F.desired([last])], routed: F.snapshot([F.routed([])]))
        let status = try #require(report.endpoints.first)
        #expect(status.state == .missing && !status.fallback)
        #expect(!report.converged)
    }

    /// A ready endpoint is never marked fallback, on any path.
    @Test("ready endpoints are programmed without fallback on every path", arguments: [DesiredEndpoint.Path.cluster, .local, .both])
    func readyNoFallback(path: DesiredEndpoint.Path) throws {
        let report = Convergence.evaluate(
            desired: [F.desired([F.endpoint("10.0.0.1:8080", path: path)])], routed: F.snapshot([F.routed(["10.0.0.1:8080"])]))
        #expect(report.endpoints.map(\.state) == [.programmed])
        #expect(report.endpoints.map(\.fallback) == [false])
    }

    /// The preStop flow: terminating and not desired is drained once the rules drop it, stale before.
    @Test("excluded endpoints: not-ready and not-selected reasons, drained when gone, stale while routed")
    func excludedReasons() throws {
        let notReady = F.endpoint("10.0.0.3:8080", ready: false, path: .none)
        let otherZone = F.endpoint("10.0.0.4:8080", path: .none)
        let report = Convergence.evaluate(
            desired: [F.desired([F.endpoint("10.0.0.1:8080"), notReady, otherZone])],
            routed: F.snapshot([F.routed(["10.0.0.1:8080", "10.0.0.4:8080"])]))
        #expect(report.endpoints.map(\.state) == [.programmed, .drained, .stale])
        #expect(report.endpoints.map(\.reason) == [.desiredAndRouted, .notReady, .notSelectedOnNode])
        #expect(!report.converged)
        #expect(report.divergent.map(\.address) == [F.address("10.0.0.4:8080")])
    }

    /// Removed from its slice (the "relabel first" flow) while kube-proxy still routes it: stale, no slice.
    @Test("a routed endpoint listed in no slice is stale, with no slice reference")
    func routedNotListed() throws {
        let report = Convergence.evaluate(
            desired: [F.desired([F.endpoint("10.0.0.1:8080")])],
            routed: F.snapshot([F.routed(["10.0.0.1:8080", "10.0.0.9:8080"])]))
        let stale = try #require(report.endpoints.first { $0.state == .stale })
        #expect(stale.address == F.address("10.0.0.9:8080"))
        #expect(stale.reason == .notInSlices)
        #expect(stale.slice == nil)
    }

    /// A deleted Service whose rules are still there.
    @Test("routed endpoints of a service port the desired state does not know are stale")
    func unknownServicePort() throws {
        let gone = ServicePortName(namespace: "shop", name: "old", port: "")
        let report = Convergence.evaluate(
            desired: [], routed: F.snapshot([F.routed(gone, .tcp, ["10.0.0.5:80", "10.0.0.6:80"])]))
        #expect(report.endpoints.map(\.state) == [.stale, .stale])
        #expect(report.endpoints.allSatisfy { $0.reason == .unknownServicePort && $0.servicePort == gone })
        #expect(!report.converged)
    }

    /// A new Service kube-proxy has not synced yet.
    @Test("a desired service port absent from the dataplane: its desired endpoints are missing, its excluded ones drained")
    func servicePortNotInDataplane() throws {
        let report = Convergence.evaluate(
            desired: [F.desired([F.endpoint("10.0.0.1:8080"), F.endpoint("10.0.0.2:8080", ready: false, terminating: true, path: .none)])],
            routed: F.snapshot([]))
        #expect(report.endpoints.map(\.state) == [.missing, .drained])
        #expect(report.endpoints.first?.reason == .servicePortNotInDataplane)
    }

    /// DNS on 53/UDP and 53/TCP: two service ports that differ only by protocol are never mixed up.
    @Test("ports differing only by protocol are joined separately")
    func protocols() throws {
        let dns = ServicePortName(namespace: "kube-system", name: "dns", port: "dns")
        let report = Convergence.evaluate(
            desired: [
                F.desired(dns, .udp, [F.endpoint("10.0.0.2:53")]),
                F.desired(dns, .tcp, [F.endpoint("10.0.0.2:53")]),
            ],
            routed: F.snapshot([F.routed(dns, .udp, ["10.0.0.2:53"])]))
        #expect(report.endpoints.map(\.protocol) == [.tcp, .udp])
        #expect(report.endpoints.map(\.state) == [.missing, .programmed])
    }

    /// One pod behind two Services (or two ports): each service port reports it on its own.
    @Test("an endpoint under several service ports gets one status per service port")
    func severalServicePorts() throws {
        let metrics = ServicePortName(namespace: "shop", name: "web", port: "metrics")
        let report = Convergence.evaluate(
            desired: [
                F.desired([F.endpoint("10.0.0.1:8080")]),
                F.desired(metrics, .tcp, [F.endpoint("10.0.0.1:9100", ready: false, terminating: true, path: .none)]),
            ],
            routed: F.snapshot([F.routed(["10.0.0.1:8080"]), F.routed(metrics, .tcp, ["10.0.0.1:9100"])]))
        #expect(report.endpoints.map(\.servicePort) == [F.web, metrics])
        #expect(report.endpoints.map(\.state) == [.programmed, .stale])
    }

    /// Dual stack: both families are one service port; IPv6 endpoints are compared like IPv4 ones,
    /// and v4 and v6 tables reported separately by a reader are joined.
    @Test("IPv6 and dual stack")
    func dualStack() throws {
        let report = Convergence.evaluate(
            desired: [
                F.desired([
                    F.endpoint("10.0.0.1:8080"), F.endpoint("[fd00::1]:8080"),
                    F.endpoint("[fd00::2]:8080", ready: false, terminating: true, path: .none),
                ])
            ],
            routed: F.snapshot([F.routed(["10.0.0.1:8080"]), F.routed(["[fd00::2]:8080"])]))
        #expect(report.endpoints.map { "\($0.address) \($0.state)" } == [
            "10.0.0.1:8080 programmed", "[fd00::1]:8080 missing", "[fd00::2]:8080 stale",
        ])
    }

    /// Nothing desired, nothing routed, no slices: trivially converged.
    @Test("an empty node is converged")
    func empty() {
        let report = Convergence.evaluate(desired: [], routed: F.snapshot([]))
        #expect(report.endpoints.isEmpty && report.converged)
    }

    /// A raw IPVS virtual server carries no Service name: its endpoints are reported, not dropped.
    @Test("routed endpoints of an unnamed service port are stale, not dropped")
    func unnamed() {
        let port = RoutedServicePort(service: nil, port: "", protocol: .tcp, frontends: [], endpoints: [F.address("10.0.0.7:80")])
        let report = Convergence.evaluate(desired: [], routed: DataplaneSnapshot(mode: .ipvs, servicePorts: [port]))
        #expect(report.endpoints.map(\.state) == [.stale])
        #expect(report.endpoints.map(\.reason) == [.unknownServicePort])
    }

    /// End to end through kube-proxy's selection: the last serving, terminating pod stays
    /// programmed with fallback; a second, ready pod takes over and it becomes stale, then drained.
    @Test("through DesiredState.compute: fallback, then stale, then drained")
    func throughSelection() throws {
        let service = V1Service(
            metadata: ObjectMeta(name: "web", namespace: "shop", uid: "s1"),
            spec: .init(
                type: .clusterIP, clusterIP: "10.96.0.10", clusterIPs: ["10.96.0.10"], ipFamilies: ["IPv4"],
                ports: [.init(name: "http", protocol: .tcp, port: 80, targetPort: .int(8080))]))
        func slice(_ endpoints: [V1EndpointSlice.Endpoint], generation: Int64) -> V1EndpointSlice {
            V1EndpointSlice(
                metadata: ObjectMeta(
                    name: "web-abc", namespace: "shop", uid: "e1", generation: generation,
                    labels: ["kubernetes.io/service-name": "web"]),
                addressType: .ipv4, endpoints: endpoints, ports: [.init(name: "http", protocol: .tcp, port: 8080)])
        }
        let terminating = V1EndpointSlice.Endpoint(
            addresses: ["10.244.1.5"], conditions: .init(ready: false, serving: true, terminating: true))
        let ready = V1EndpointSlice.Endpoint(addresses: ["10.244.2.6"], conditions: .init(ready: true))
        let node = NodeTopology(name: "worker-a")

        let alone = DesiredState.compute(services: [service], slices: [slice([terminating], generation: 2)], node: node)
        let first = Convergence.evaluate(desired: alone, routed: F.snapshot([F.routed(["10.244.1.5:8080"])]))
        #expect(first.endpoints.map(\.state) == [.programmed])
        #expect(first.endpoints.map(\.fallback) == [true])
        #expect(first.endpoints.first?.slice == SliceReference(name: "web-abc", uid: "e1", generation: 2))

        let both = DesiredState.compute(
            services: [service], slices: [slice([terminating, ready], generation: 3)], node: node)
        let second = Convergence.evaluate(desired: both, routed: F.snapshot([F.routed(["10.244.1.5:8080"])]))
        #expect(second.endpoints.map { "\($0.address) \($0.state) \($0.fallback)" } == [
            "10.244.1.5:8080 stale false", "10.244.2.6:8080 missing false",
        ])
        #expect(second.endpoints.first?.slice?.generation == 3)

        let third = Convergence.evaluate(desired: both, routed: F.snapshot([F.routed(["10.244.2.6:8080"])]))
        #expect(third.endpoints.map(\.state) == [.drained, .programmed])
        #expect(third.converged)
    }
}
