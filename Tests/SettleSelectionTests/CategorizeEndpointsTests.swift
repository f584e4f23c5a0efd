import SettleModel
import SettleSelection
import Testing

/// `EndpointSelection.categorize`, with cases ported from upstream `TestCategorizeEndpoints`
/// (KK `pkg/proxy/topology_test.go`). Terminating-endpoint support is GA upstream, so the
/// "PTE disabled" variants are dropped; the hints-annotation cases of old versions became
/// "hints are always honoured" (newest `topology.go` reads no annotation).
struct CategorizeEndpointsTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var nodeLabels: [String: String] = ["topology.kubernetes.io/zone": "zone-a"]
        var nodeName = "node-1"
        var preferSameNode = true
        var servicePort = Build.servicePort()
        var endpoints: [EndpointInfo]
        /// `nil`: the service port does not use this kind of endpoints.
        var cluster: Set<String>?
        var local: Set<String>?
        /// Defaults to whichever of cluster/local is set when only one is.
        var all: Set<String>? = nil
        /// hasAnyEndpoints is true although `all` is empty.
        var onlyRemote = false
        var clusterFallback = false
        var localFallback = false

        var testDescription: String { name }
    }

    static let zoneEndpoints = [
        Build.endpoint("10.1.2.3:80", zones: ["zone-a"]), Build.endpoint("10.1.2.4:80", zones: ["zone-b"]),
        Build.endpoint("10.1.2.5:80", zones: ["zone-c"]), Build.endpoint("10.1.2.6:80", zones: ["zone-a"]),
    ]
    static let allFour: Set<String> = ["10.1.2.3:80", "10.1.2.4:80", "10.1.2.5:80", "10.1.2.6:80"]

    static let cases: [Case] = [
        Case(name: "zone hints filter cluster endpoints to this node's zone",
             endpoints: zoneEndpoints, cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: nil),
        Case(name: "externalTrafficPolicy Local: topology ignored for local endpoints",
             servicePort: Build.servicePort(externalLocal: true, nodePort: 8080),
             endpoints: [Build.endpoint("10.1.2.3:80", local: true, zones: ["zone-a"]),
                         Build.endpoint("10.1.2.4:80", local: true, zones: ["zone-b"]),
                         Build.endpoint("10.1.2.5:80", zones: ["zone-c"]), Build.endpoint("10.1.2.6:80", zones: ["zone-a"])],
             cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: ["10.1.2.3:80", "10.1.2.4:80"],
             all: ["10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"]),
        Case(name: "internalTrafficPolicy Local with a NodePort: topology ignored for local endpoints",
             servicePort: Build.servicePort(internalLocal: true, nodePort: 8080),
             endpoints: [Build.endpoint("10.1.2.3:80", local: true, zones: ["zone-a"]),
                         Build.endpoint("10.1.2.4:80", local: true, zones: ["zone-b"]),
                         Build.endpoint("10.1.2.5:80", zones: ["zone-c"]), Build.endpoint("10.1.2.6:80", zones: ["zone-a"])],
             cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: ["10.1.2.3:80", "10.1.2.4:80"],
             all: ["10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"]),
        Case(name: "empty node labels: zone hints ignored",
             nodeLabels: [:], endpoints: [Build.endpoint("10.1.2.3:80", zones: ["zone-a"])],
             cluster: ["10.1.2.3:80"], local: nil),
        Case(name: "empty zone label: zone hints ignored",
             nodeLabels: ["topology.kubernetes.io/zone": ""], endpoints: [Build.endpoint("10.1.2.3:80", zones: ["zone-a"])],
             cluster: ["10.1.2.3:80"], local: nil),
        Case(name: "node in a zone no endpoint is hinted for: no filtering",
             nodeLabels: ["topology.kubernetes.io/zone": "zone-b"], endpoints: [Build.endpoint("10.1.2.3:80", zones: ["zone-a"])],
             cluster: ["10.1.2.3:80"], local: nil),
        Case(name: "unready endpoint excluded even when hinted for this zone",
             endpoints: [Build.endpoint("10.1.2.3:80", zones: ["zone-a"]), Build.endpoint("10.1.2.4:80", zones: ["zone-b"]),
                         Build.endpoint("10.1.2.5:80", zones: ["zone-c"]),
                         Build.endpoint("10.1.2.6:80", ready: false, zones: ["zone-a"])],
             cluster: ["10.1.2.3:80"], local: nil),
        Case(name: "only unready endpoints in this zone: hints judged over ready endpoints, no filtering",
             endpoints: [Build.endpoint("10.1.2.3:80", ready: false, zones: ["zone-a"]),
                         Build.endpoint("10.1.2.4:80", zones: ["zone-b"]), Build.endpoint("10.1.2.5:80", zones: ["zone-c"]),
                         Build.endpoint("10.1.2.6:80", ready: false, zones: ["zone-a"])],
             cluster: ["10.1.2.4:80", "10.1.2.5:80"], local: nil),
        Case(name: "a ready endpoint without zone hints disables zone filtering",
             endpoints: [Build.endpoint("10.1.2.3:80", zones: ["zone-a"]), Build.endpoint("10.1.2.4:80", zones: ["zone-b"]),
                         Build.endpoint("10.1.2.5:80"), Build.endpoint("10.1.2.6:80", zones: ["zone-a"])],
             cluster: allFour, local: nil),
        Case(name: "an unready endpoint without zone hints does not disable zone filtering",
             endpoints: [Build.endpoint("10.1.2.3:80", zones: ["zone-a"]), Build.endpoint("10.1.2.4:80", zones: ["zone-b"]),
                         Build.endpoint("10.1.2.5:80", ready: false)],
             cluster: ["10.1.2.3:80"], local: nil),
        Case(name: "multiple zone hints per endpoint: any match counts",
             nodeLabels: ["topology.kubernetes.io/zone": "zone-c"],
             endpoints: [Build.endpoint("10.1.2.3:80", zones: ["zone-a", "zone-b", "zone-c"]),
                         Build.endpoint("10.1.2.4:80", zones: ["zone-b", "zone-c"]),
                         Build.endpoint("10.1.2.5:80", zones: ["zone-b", "zone-d"]), Build.endpoint("10.1.2.6:80", zones: ["zone-c"])],
             cluster: ["10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"], local: nil),
        Case(name: "conflicting topology and localness require merging allReachable",
             servicePort: Build.servicePort(externalLocal: true, nodePort: 8080),
             endpoints: [Build.endpoint("10.0.0.0:80", local: true, zones: ["zone-a"]),
                         Build.endpoint("10.0.0.1:80", local: true, zones: ["zone-b"]),
                         Build.endpoint("10.0.0.2:80", zones: ["zone-a"]), Build.endpoint("10.0.0.3:80", zones: ["zone-b"])],
             cluster: ["10.0.0.0:80", "10.0.0.2:80"], local: ["10.0.0.0:80", "10.0.0.1:80"],
             all: ["10.0.0.0:80", "10.0.0.1:80", "10.0.0.2:80"]),
        Case(name: "node hints select this node's endpoints (PreferSameTrafficDistribution on)",
             endpoints: [Build.endpoint("10.0.0.1:80", zones: ["zone-a"], nodes: ["node-1"]),
                         Build.endpoint("10.0.0.2:80", zones: ["zone-a"], nodes: ["node-2"]),
                         Build.endpoint("10.0.0.3:80", zones: ["zone-b"], nodes: ["node-3"])],
             cluster: ["10.0.0.1:80"], local: nil),
        Case(name: "node hints ignored with PreferSameTrafficDistribution off: zone hints apply",
             preferSameNode: false,
             endpoints: [Build.endpoint("10.0.0.1:80", zones: ["zone-a"], nodes: ["node-1"]),
                         Build.endpoint("10.0.0.2:80", zones: ["zone-a"], nodes: ["node-2"]),
                         Build.endpoint("10.0.0.3:80", zones: ["zone-b"], nodes: ["node-3"])],
             cluster: ["10.0.0.1:80", "10.0.0.2:80"], local: nil),
        Case(name: "node hints for other nodes only: fall back to zone hints",
             endpoints: [Build.endpoint("10.0.0.2:80", zones: ["zone-a"], nodes: ["node-2"]),
                         Build.endpoint("10.0.0.3:80", zones: ["zone-b"], nodes: ["node-3"])],
             cluster: ["10.0.0.2:80"], local: nil),
        Case(name: "internalTrafficPolicy Local with no endpoints",
             servicePort: Build.servicePort(internalLocal: true), endpoints: [], cluster: nil, local: []),
        Case(name: "internalTrafficPolicy Local, all endpoints remote: nothing local, but some endpoint exists",
             servicePort: Build.servicePort(internalLocal: true),
             endpoints: [Build.endpoint("10.0.0.0:80"), Build.endpoint("10.0.0.1:80")],
             cluster: nil, local: [], onlyRemote: true),
        Case(name: "internalTrafficPolicy Local, all endpoints local",
             servicePort: Build.servicePort(internalLocal: true),
             endpoints: [Build.endpoint("10.0.0.0:80", local: true), Build.endpoint("10.0.0.1:80", local: true)],
             cluster: nil, local: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "internalTrafficPolicy Local, some endpoints local",
             servicePort: Build.servicePort(internalLocal: true),
             endpoints: [Build.endpoint("10.0.0.0:80", local: true), Build.endpoint("10.0.0.1:80")],
             cluster: nil, local: ["10.0.0.0:80"]),
        Case(name: "Cluster policy, no endpoint ready and none terminating: empty, reject",
             endpoints: [Build.endpoint("10.0.0.0:80", ready: false, serving: false),
                         Build.endpoint("10.0.0.1:80", ready: false, serving: false)],
             cluster: [], local: nil),
        Case(name: "Cluster policy, some endpoints ready",
             endpoints: [Build.endpoint("10.0.0.0:80", ready: false, serving: false), Build.endpoint("10.0.0.1:80")],
             cluster: ["10.0.0.1:80"], local: nil),
        Case(name: "Cluster policy, all endpoints serving and terminating: fallback to them",
             endpoints: [Build.endpoint("10.0.0.0:80", ready: false, terminating: true, local: true),
                         Build.endpoint("10.0.0.1:80", ready: false, terminating: true)],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: nil, clusterFallback: true),
        Case(name: "fallback ignores topology hints",
             endpoints: [Build.endpoint("10.0.0.0:80", ready: false, terminating: true, zones: ["zone-b"]),
                         Build.endpoint("10.0.0.1:80", ready: false, terminating: true, zones: ["zone-a"])],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: nil, clusterFallback: true),
        Case(name: "terminating but not serving endpoints are never a fallback",
             endpoints: [Build.endpoint("10.0.0.0:80", ready: false, serving: false, terminating: true)],
             cluster: [], local: nil),
        Case(name: "iTP Local, eTP Cluster, some endpoints local",
             servicePort: Build.servicePort(internalLocal: true, nodePort: 8080),
             endpoints: [Build.endpoint("10.0.0.0:80", local: true), Build.endpoint("10.0.0.1:80")],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: ["10.0.0.0:80"], all: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "iTP Cluster, eTP Local, some endpoints local",
             servicePort: Build.servicePort(externalLocal: true, nodePort: 8080),
             endpoints: [Build.endpoint("10.0.0.0:80", local: true), Build.endpoint("10.0.0.1:80")],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: ["10.0.0.0:80"], all: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "iTP Local, eTP Local, all endpoints remote",
             servicePort: Build.servicePort(internalLocal: true, externalLocal: true, nodePort: 8080),
             endpoints: [Build.endpoint("10.0.0.0:80"), Build.endpoint("10.0.0.1:80")],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: [], all: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "iTP Local, eTP Local, all endpoints remote and terminating",
             servicePort: Build.servicePort(internalLocal: true, externalLocal: true, nodePort: 8080),
             endpoints: [Build.endpoint("10.0.0.0:80", ready: false, terminating: true),
                         Build.endpoint("10.0.0.1:80", ready: false, terminating: true)],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: [], all: ["10.0.0.0:80", "10.0.0.1:80"],
             onlyRemote: true, clusterFallback: true),
        Case(name: "iTP Cluster, eTP Local, with terminating endpoints: local falls back to local serving-terminating",
             servicePort: Build.servicePort(externalLocal: true, nodePort: 8080),
             endpoints: [Build.endpoint("10.0.0.0:80"), Build.endpoint("10.0.0.1:80", ready: false, serving: false, local: true),
                         Build.endpoint("10.0.0.2:80", ready: false, terminating: true, local: true),
                         Build.endpoint("10.0.0.3:80", ready: false, terminating: true)],
             cluster: ["10.0.0.0:80"], local: ["10.0.0.2:80"], all: ["10.0.0.0:80", "10.0.0.2:80"], localFallback: true),
        Case(name: "local ready endpoints win over local serving-terminating ones",
             servicePort: Build.servicePort(internalLocal: true),
             endpoints: [Build.endpoint("10.0.0.1:80", local: true),
                         Build.endpoint("10.0.0.2:80", ready: false, terminating: true, local: true)],
             cluster: nil, local: ["10.0.0.1:80"]),
        Case(name: "ready and terminating (publishNotReadyAddresses) counts as ready",
             endpoints: [Build.endpoint("10.0.0.1:80", ready: true, terminating: true), Build.endpoint("10.0.0.2:80")],
             cluster: ["10.0.0.1:80", "10.0.0.2:80"], local: nil),
        Case(name: "externalTrafficPolicy ignored if not externally accessible",
             servicePort: Build.servicePort(externalLocal: true),
             endpoints: [Build.endpoint("10.0.0.0:80"), Build.endpoint("10.0.0.1:80", local: true)],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: nil),
        Case(name: "no cluster endpoints for an iTP Local internal-only service",
             servicePort: Build.servicePort(internalLocal: true),
             endpoints: [Build.endpoint("10.0.0.0:80"), Build.endpoint("10.0.0.1:80", local: true)],
             cluster: nil, local: ["10.0.0.1:80"]),
    ]

    static func strings(_ endpoints: [EndpointInfo]?) -> Set<String>? { endpoints.map { Set($0.map(\.address.description)) } }

    @Test("categorizes endpoints as kube-proxy's CategorizeEndpoints does", arguments: cases)
    func categorize(_ c: Case) {
        let result = EndpointSelection.categorize(
            c.endpoints, servicePort: c.servicePort, node: NodeTopology(name: c.nodeName, labels: c.nodeLabels),
            options: SelectionOptions(preferSameTrafficDistribution: c.preferSameNode))
        #expect(Self.strings(result.cluster) == c.cluster)
        // Upstream returns nil or an empty list for "local policy, nothing usable"; both mean none.
        #expect((Self.strings(result.local) ?? (c.local == [] ? [] : nil)) == c.local)
        let expectedAll = c.all ?? c.cluster ?? c.local ?? []
        #expect(Set(result.allReachable.map(\.address.description)) == expectedAll)
        #expect(result.hasAnyEndpoints == (!expectedAll.isEmpty || c.onlyRemote))
        #expect(result.clusterFallback == c.clusterFallback)
        #expect(result.localFallback == c.localFallback)
    }

    @Test("topology mode names the filter applied")
    func topologyMode() {
        let node = NodeTopology(name: "node-1", labels: ["topology.kubernetes.io/zone": "zone-a"])
        #expect(EndpointSelection.topologyMode(Self.zoneEndpoints, node: node) == .preferSameZone)
        #expect(EndpointSelection.topologyMode([Build.endpoint("10.0.0.1:80", nodes: ["node-1"])], node: node) == .preferSameNode)
        #expect(EndpointSelection.topologyMode([Build.endpoint("10.0.0.1:80")], node: node) == TopologyMode.none)
        #expect(EndpointSelection.topologyMode([Build.endpoint("10.0.0.1:80", ready: false, zones: ["zone-a"])], node: node) == TopologyMode.none)
    }
}
