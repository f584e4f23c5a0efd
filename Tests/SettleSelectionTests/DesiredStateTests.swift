import SettleKube
import SettleModel
import SettleSelection
import Testing

/// `DesiredState.compute` from API objects: one case per rule of reference §0 and §4.1–4.2
/// (slice merging, conditions, ports, families, label selector, policies, frontends).
struct DesiredStateTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var services: [V1Service] = [Build.service()]
        var slices: [V1EndpointSlice]
        var node = NodeTopology(name: "node-1", labels: ["topology.kubernetes.io/zone": "zone-a"])
        var options = SelectionOptions()
        /// `"ns/name:port/PROTO"` → desired `"ip:port"`; service ports not listed must be absent.
        var expected: [String: Set<String>]
        /// Desired endpoints marked `fallback`, all ports together.
        var fallback: Set<String> = []

        var testDescription: String { name }
    }

    static let http = "ns/svc:http/TCP"

    static let cases: [Case] = [
        Case(name: "slices with the same service-name label in the namespace are merged",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1")), Build.slice("b", Build.sliceEndpoint("10.0.0.2")),
                      Build.slice("c", namespace: "other", Build.sliceEndpoint("10.0.0.3")),
                      Build.slice("d", service: "svc2", Build.sliceEndpoint("10.0.0.4")),
                      Build.slice("e", service: nil, Build.sliceEndpoint("10.0.0.5"))],
             expected: [http: ["10.0.0.1:8080", "10.0.0.2:8080"]]),
        Case(name: "only slices of the proxier's address family are used; FQDN slices never",
             slices: [Build.slice("v4", Build.sliceEndpoint("10.0.0.1")),
                      Build.slice("v6", addressType: .ipv6, Build.sliceEndpoint("fd00::1")),
                      Build.slice("fqdn", addressType: .fqdn, Build.sliceEndpoint("example.com"))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "a family is programmed only if the Service has a ClusterIP of that family",
             services: [Build.service(clusterIPs: ["172.30.0.1", "fd00:30::1"]), Build.service("v6only", clusterIPs: ["fd00:30::2"])],
             slices: [Build.slice("v4", Build.sliceEndpoint("10.0.0.1")),
                      Build.slice("v6", addressType: .ipv6, Build.sliceEndpoint("fd00::1")),
                      Build.slice("o4", service: "v6only", Build.sliceEndpoint("10.0.0.9")),
                      Build.slice("o6", service: "v6only", addressType: .ipv6, Build.sliceEndpoint("fd00::9"))],
             expected: [http: ["10.0.0.1:8080", "[fd00::1]:8080"], "ns/v6only:http/TCP": ["[fd00::9]:8080"]]),
        Case(name: "the ipFamilies option limits the proxiers that run",
             services: [Build.service(clusterIPs: ["172.30.0.1", "fd00:30::1"])],
             slices: [Build.slice("v4", Build.sliceEndpoint("10.0.0.1")),
                      Build.slice("v6", addressType: .ipv6, Build.sliceEndpoint("fd00::1"))],
             options: SelectionOptions(ipFamilies: [.ipv6]),
             expected: [http: ["[fd00::1]:8080"]]),
        Case(name: "headless and ExternalName Services are not proxied",
             services: [Build.service(clusterIPs: ["None"]), Build.service("ext", type: .externalName)],
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1")), Build.slice("b", service: "ext", Build.sliceEndpoint("10.0.0.2"))],
             expected: [:]),
        Case(name: "Services labelled service-proxy-name or headless are invisible to kube-proxy",
             services: [Build.service(labels: [ProxyLabelSelector.serviceProxyNameLabel: "other"]),
                        Build.service("h", labels: [ProxyLabelSelector.headlessLabel: ""])],
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1")), Build.slice("b", service: "h", Build.sliceEndpoint("10.0.0.2"))],
             expected: [:]),
        Case(name: "slices labelled service-proxy-name or headless are invisible to kube-proxy",
             slices: [Build.slice("a", labels: [ProxyLabelSelector.serviceProxyNameLabel: "x"], Build.sliceEndpoint("10.0.0.1")),
                      Build.slice("b", labels: [ProxyLabelSelector.headlessLabel: ""], Build.sliceEndpoint("10.0.0.2")),
                      Build.slice("c", Build.sliceEndpoint("10.0.0.3"))],
             expected: [http: ["10.0.0.3:8080"]]),
        Case(name: "slices of a missing Service are ignored",
             services: [],
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1"))],
             expected: [:]),
        Case(name: "nil conditions mean ready",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: nil))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "nil serving means serving (not 'same as ready'): a terminating endpoint with nil serving is a fallback",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: false, serving: nil, terminating: true))],
             expected: [http: ["10.0.0.1:8080"]], fallback: ["10.0.0.1:8080"]),
        Case(name: "nil terminating means not terminating: a not-ready endpoint is no fallback",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: false, serving: true, terminating: nil))],
             expected: [http: []]),
        Case(name: "only addresses[0] is used",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", "10.0.0.2"))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "endpoints without addresses and unparseable addresses are skipped",
             slices: [Build.slice("a", Build.sliceEndpoint(), Build.sliceEndpoint("not-an-ip"), Build.sliceEndpoint("10.0.0.1"))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "addresses are compared after sloppy parsing (leading zeros)",
             slices: [Build.slice("a", Build.sliceEndpoint("010.000.000.001"))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "a slice port with a nil name is ignored; an empty name matches the unnamed Service port",
             services: [Build.service(ports: [.init(port: 80)])],
             slices: [Build.slice("a", ports: [.init(name: nil, port: 9000)], Build.sliceEndpoint("10.0.0.1")),
                      Build.slice("b", ports: [.init(name: "", port: 9001)], Build.sliceEndpoint("10.0.0.2"))],
             expected: ["ns/svc/TCP": ["10.0.0.2:9001"]]),
        Case(name: "a slice port with a nil or zero port number is ignored",
             slices: [Build.slice("a", ports: [.init(name: "http", port: nil)], Build.sliceEndpoint("10.0.0.1")),
                      Build.slice("b", ports: [.init(name: "http", port: 0)], Build.sliceEndpoint("10.0.0.2")),
                      Build.slice("c", ports: [.init(name: "http", port: 8080)], Build.sliceEndpoint("10.0.0.3"))],
             expected: [http: ["10.0.0.3:8080"]]),
        Case(name: "slice ports join Service ports on name and protocol (nil protocol is TCP)",
             services: [Build.service(ports: [.init(name: "dns", protocol: .udp, port: 53), .init(name: "dns", protocol: .tcp, port: 53)])],
             slices: [Build.slice("a", ports: [.init(name: "dns", protocol: .udp, port: 5353)], Build.sliceEndpoint("10.0.0.1")),
                      Build.slice("b", ports: [.init(name: "dns", protocol: nil, port: 5354)], Build.sliceEndpoint("10.0.0.2")),
                      Build.slice("c", ports: [.init(name: "other", protocol: .udp, port: 1)], Build.sliceEndpoint("10.0.0.3"))],
             expected: ["ns/svc:dns/UDP": ["10.0.0.1:5353"], "ns/svc:dns/TCP": ["10.0.0.2:5354"]]),
        Case(name: "a duplicate ip:port: the non-terminating entry wins (terminating slice first)",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: false, serving: true, terminating: true)),
                      Build.slice("b", Build.sliceEndpoint("10.0.0.1", ready: true)),
                      Build.slice("c", Build.sliceEndpoint("10.0.0.2", ready: false, serving: true, terminating: true))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "a duplicate ip:port: the non-terminating entry wins (terminating slice last)",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: true)),
                      Build.slice("b", Build.sliceEndpoint("10.0.0.1", ready: false, serving: true, terminating: true)),
                      Build.slice("c", Build.sliceEndpoint("10.0.0.2", ready: false, serving: true, terminating: true))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "internalTrafficPolicy Local: only this node's endpoints",
             services: [Build.service(internalPolicy: .local)],
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", node: "node-1"), Build.sliceEndpoint("10.0.0.2", node: "node-2"))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "internalTrafficPolicy Local and no local endpoint: nothing desired (dropped)",
             services: [Build.service(internalPolicy: .local)],
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.2", node: "node-2"))],
             expected: [http: []]),
        Case(name: "externalTrafficPolicy Local on a NodePort: local for external traffic, cluster for the short-circuit",
             services: [Build.service(type: .nodePort, ports: [.init(name: "http", port: 80, nodePort: 30080)], externalPolicy: .local)],
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", node: "node-1"), Build.sliceEndpoint("10.0.0.2", node: "node-2"))],
             expected: [http: ["10.0.0.1:8080", "10.0.0.2:8080"]]),
        Case(name: "externalTrafficPolicy Local is ignored on a ClusterIP Service without external IPs",
             services: [Build.service(internalPolicy: .local, externalPolicy: .local)],
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", node: "node-1"), Build.sliceEndpoint("10.0.0.2", node: "node-2"))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "an external IP makes a ClusterIP Service externally accessible (iTP Local still uses cluster endpoints)",
             services: [Build.service(internalPolicy: .local, externalIPs: ["192.0.2.7"])],
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", node: "node-1"), Build.sliceEndpoint("10.0.0.2", node: "node-2"))],
             expected: [http: ["10.0.0.1:8080", "10.0.0.2:8080"]]),
        Case(name: "zone hints from slices filter cluster endpoints by the node's zone label",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", forZones: ["zone-a"]), Build.sliceEndpoint("10.0.0.2", forZones: ["zone-b"]))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "node hints from slices apply when PreferSameTrafficDistribution is on",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", forZones: ["zone-a"], forNodes: ["node-1"]),
                                  Build.sliceEndpoint("10.0.0.2", forZones: ["zone-a"], forNodes: ["node-2"]))],
             expected: [http: ["10.0.0.1:8080"]]),
        Case(name: "node hints from slices are not even read when PreferSameTrafficDistribution is off",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", forZones: ["zone-a"], forNodes: ["node-1"]),
                                  Build.sliceEndpoint("10.0.0.2", forZones: ["zone-a"], forNodes: ["node-2"]))],
             options: SelectionOptions(preferSameTrafficDistribution: false),
             expected: [http: ["10.0.0.1:8080", "10.0.0.2:8080"]]),
        Case(name: "no ready endpoint: serving-terminating endpoints are desired and marked fallback",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: false, serving: true, terminating: true),
                                  Build.sliceEndpoint("10.0.0.2", ready: false, serving: false, terminating: true))],
             expected: [http: ["10.0.0.1:8080"]], fallback: ["10.0.0.1:8080"]),
        Case(name: "a ready endpoint anywhere: terminating endpoints are not desired",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: false, serving: true, terminating: true),
                                  Build.sliceEndpoint("10.0.0.2", ready: true))],
             expected: [http: ["10.0.0.2:8080"]]),
        Case(name: "ready and terminating (publishNotReadyAddresses): desired, not a fallback",
             slices: [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: true, serving: true, terminating: true),
                                  Build.sliceEndpoint("10.0.0.2", ready: true))],
             expected: [http: ["10.0.0.1:8080", "10.0.0.2:8080"]]),
        Case(name: "a Service port without endpoints is listed with none (kube-proxy rejects)",
             slices: [],
             expected: [http: []]),
    ]

    @Test("computes the desired endpoints per service port", arguments: cases)
    func desired(_ c: Case) {
        let ports = DesiredState.compute(services: c.services, slices: c.slices, node: c.node, options: c.options)
        var actual: [String: Set<String>] = [:]
        for port in ports { actual[port.key.description] = Set(port.endpoints.map(\.address.description)) }
        #expect(actual == c.expected)
        let fallback = Set(ports.flatMap(\.endpoints).filter(\.fallback).map(\.address.description))
        #expect(fallback == c.fallback)
    }

    @Test("frontends: ClusterIPs, NodePort, external IPs and VIP-mode LoadBalancer IPs, each per family")
    func frontends() throws {
        let service = Build.service(
            type: .loadBalancer, clusterIPs: ["172.30.0.1", "fd00:30::1"],
            ports: [.init(name: "http", port: 80, nodePort: 30080)], externalIPs: [" 192.0.2.7 ", "2001:db8::7", "bogus"],
            ingress: [.init(ip: "203.0.113.1"), .init(ip: "203.0.113.2", ipMode: "VIP"), .init(ip: "203.0.113.3", ipMode: "Proxy"),
                      .init(hostname: "lb.example.com"), .init(ip: "2001:db8::9")])
        let ports = DesiredState.compute(services: [service], slices: [], node: NodeTopology(name: "n"))
        let port = try #require(ports.first)
        #expect(Set(port.frontends.map(\.description)) == [
            "clusterIP 172.30.0.1:80", "clusterIP [fd00:30::1]:80",
            "externalIP 192.0.2.7:80", "externalIP [2001:db8::7]:80",
            "loadBalancer 203.0.113.1:80", "loadBalancer 203.0.113.2:80", "loadBalancer [2001:db8::9]:80",
            "nodePort *:30080",
        ])
        #expect(port.frontends == port.frontends.sorted())
        #expect(port.rejects)
    }

    @Test("a single-stack Service gets no frontends or endpoints of the other family")
    func singleStackFrontends() throws {
        let service = Build.service(externalIPs: ["2001:db8::7"])
        let ports = DesiredState.compute(
            services: [service], slices: [Build.slice("v6", addressType: .ipv6, Build.sliceEndpoint("fd00::1"))],
            node: NodeTopology(name: "n"))
        let port = try #require(ports.first)
        #expect(port.frontends.map(\.description) == ["clusterIP 172.30.0.1:80"])
        #expect(port.endpoints.isEmpty)
        #expect(port.families.map(\.family) == [.ipv4])
    }

    @Test("each endpoint records its slice UID and generation, target pod, node, zone, conditions and path")
    func provenance() throws {
        let service = Build.service(type: .nodePort, ports: [.init(name: "http", port: 80, nodePort: 30080)], externalPolicy: .local)
        let slices = [
            Build.slice("a", generation: 4, Build.sliceEndpoint("10.0.0.1", node: "node-1", zone: "zone-a", pod: "p1")),
            Build.slice("b", generation: 9,
                        Build.sliceEndpoint("10.0.0.2", node: "node-2", zone: "zone-b", pod: "p2"),
                        Build.sliceEndpoint("10.0.0.3", ready: false, serving: true, terminating: true, node: "node-2", pod: "p3")),
        ]
        let ports = DesiredState.compute(services: [service], slices: slices, node: NodeTopology(name: "node-1"))
        let port = try #require(ports.first)
        let first = try #require(port.endpoints.first)
        #expect(first.address.description == "10.0.0.1:8080")
        #expect(first.slice == SliceReference(name: "a", uid: "uid-a", generation: 4))
        #expect(first.targetRef == "ns/p1")
        #expect(first.nodeName == "node-1")
        #expect(first.zone == "zone-a")
        #expect(first.local)
        #expect(first.path == .both)
        #expect(!first.fallback)
        let second = try #require(port.endpoints.last)
        #expect(second.address.description == "10.0.0.2:8080")
        #expect(second.path == .cluster)
        #expect(second.slice.generation == 9)
        // The terminating pod is known but not desired here, with its slice for the freshness rule.
        #expect(port.excluded.map(\.address.description) == ["10.0.0.3:8080"])
        #expect(port.excluded.first?.path == DesiredEndpoint.Path.none)
        #expect(port.excluded.first?.slice == SliceReference(name: "b", uid: "uid-b", generation: 9))
        #expect(port.excluded.first?.terminating == true)
    }

    @Test("a local endpoint selected only through the local fallback has path local and fallback true")
    func localFallbackPath() throws {
        let service = Build.service(internalPolicy: .local)
        let slices = [Build.slice("a", Build.sliceEndpoint("10.0.0.1", ready: false, serving: true, terminating: true, node: "node-1"),
                                  Build.sliceEndpoint("10.0.0.2", node: "node-2"))]
        let port = try #require(DesiredState.compute(services: [service], slices: slices, node: NodeTopology(name: "node-1")).first)
        #expect(port.endpoints.map(\.path) == [.local])
        #expect(port.endpoints.map(\.fallback) == [true])
        #expect(port.families.first?.localFallback == true)
        #expect(port.families.first?.usesClusterEndpoints == false)
    }

    @Test("the routed form has the dataplane shape: service, port name, protocol, frontends, union of endpoints")
    func routed() throws {
        let service = Build.service(clusterIPs: ["172.30.0.1", "fd00:30::1"])
        let slices = [Build.slice("a", Build.sliceEndpoint("10.0.0.2"), Build.sliceEndpoint("10.0.0.1")),
                      Build.slice("b", addressType: .ipv6, Build.sliceEndpoint("fd00::1"))]
        let port = try #require(DesiredState.compute(services: [service], slices: slices, node: NodeTopology(name: "n")).first)
        let routed = port.routed
        #expect(routed.service == "ns/svc")
        #expect(routed.port == "http")
        #expect(routed.protocol == .tcp)
        #expect(routed.endpoints.map(\.description) == ["10.0.0.1:8080", "10.0.0.2:8080", "[fd00::1]:8080"])
        #expect(routed.frontends.count == 2)
    }

    @Test("output is sorted by service port, whatever the input order")
    func sorted() {
        let services = [Build.service("b"), Build.service("a", ports: [.init(name: "z", port: 1), .init(name: "y", port: 2)])]
        let ports = DesiredState.compute(services: services, slices: [], node: NodeTopology(name: "n"))
        #expect(ports.map(\.key.description) == ["ns/a:y/TCP", "ns/a:z/TCP", "ns/b:http/TCP"])
    }
}
