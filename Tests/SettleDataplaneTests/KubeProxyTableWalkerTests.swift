import SettleDataplane
import SettleModel
import Testing

/// The walk from kube-proxy's dispatch maps to DNAT targets, on hand-built rulesets.
struct KubeProxyTableWalkerTests {
    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    static func ruleset(chains: [NFTChain], serviceIPs: [NFTElement], extraSets: [NFTSet] = []) -> NFTRuleset {
        var table = NFTTable(family: .ip, name: "kube-proxy")
        for chain in chains { table.chains[chain.name] = chain }
        table.sets["service-ips"] = NFTSet(name: "service-ips", isMap: true, elements: serviceIPs)
        for set in extraSets { table.sets[set.name] = set }
        return NFTRuleset(tables: [table])
    }

    static func entry(_ address: String, _ port: UInt16, goto chain: String) -> NFTElement {
        NFTElement(key: [.address(ip(address)), .proto(6), .port(port)], value: .verdict(.goto(chain)))
    }

    @Test("parses kube-proxy chain names, including unnamed ports and dashes in namespaces")
    func chainNames() throws {
        let named = try #require(KubeProxyChainName("service-ULMVA6XW-ns1/svc1/tcp/p80"))
        #expect(named.prefix == "service" && named.hash == "ULMVA6XW" && named.name.description == "ns1/svc1:p80" && named.protocol == .tcp)
        let unnamed = try #require(KubeProxyChainName("external-ABCDEFGH-kube-system/my-dns/udp/"))
        #expect(unnamed.name == ServicePortName(namespace: "kube-system", name: "my-dns", port: "") && unnamed.protocol == .udp)
        #expect(KubeProxyChainName("mark-for-masquerade") == nil)
        #expect(KubeProxyChainName("service-SHORT-ns/svc/tcp/p") == nil)
        #expect(KubeProxyChainName("service-ABCDEFGH-ns/svc/icmp/p") == nil)
    }

    @Test("a flushed endpoint chain reached from nowhere contributes nothing")
    func staleChains() {
        let r = Self.ruleset(
            chains: [
                NFTChain(name: "service-AAAAAAAA-a/s/tcp/p", rules: [NFTRule(handle: 1, statements: [.verdict(.goto("endpoint-BBBBBBBB-a/s/tcp/p__10.0.0.1/80"))])]),
                NFTChain(name: "endpoint-BBBBBBBB-a/s/tcp/p__10.0.0.1/80", rules: [NFTRule(handle: 2, statements: [.dnat(.literal(address: Self.ip("10.0.0.1"), port: 80))])]),
                NFTChain(name: "endpoint-CCCCCCCC-a/s/tcp/p__10.0.0.2/80", rules: [NFTRule(handle: 3, statements: [.dnat(.literal(address: Self.ip("10.0.0.2"), port: 80))])]),
            ],
            serviceIPs: [Self.entry("172.30.0.1", 80, goto: "service-AAAAAAAA-a/s/tcp/p")])
        let snapshot = r.kubeProxySnapshot()
        #expect(snapshot.servicePorts.map { $0.endpoints.map(\.description) } == [["10.0.0.1:80"]])
    }

    @Test("a missing chain, a non-kube-proxy target and a portless dnat are warnings, never endpoints")
    func warnings() {
        let r = Self.ruleset(
            chains: [
                NFTChain(name: "service-AAAAAAAA-a/s/tcp/p", rules: [
                    NFTRule(handle: 1, statements: [.verdict(.jump("gone"))]),
                    NFTRule(handle: 2, statements: [.dnat(.literal(address: Self.ip("10.0.0.9"), port: nil))]),
                ])
            ],
            serviceIPs: [Self.entry("172.30.0.1", 80, goto: "service-AAAAAAAA-a/s/tcp/p"), Self.entry("172.30.0.2", 80, goto: "not-kube-proxy")])
        let snapshot = r.kubeProxySnapshot()
        #expect(snapshot.servicePorts.count == 1)
        #expect(snapshot.servicePorts.first?.endpoints == [])
        #expect(snapshot.warnings.count == 3, "\(snapshot.warnings)")
        #expect(snapshot.warnings.contains { $0.contains("gone") })
        #expect(snapshot.warnings.contains { $0.contains("not-kube-proxy") })
        #expect(snapshot.warnings.contains { $0.contains("without a port") })
    }

    @Test("frontends: ClusterIPs from cluster-ips, LB IPs from firewall-ips, other external- keys are externalIPs")
    func frontendKinds() {
        let chains = [
            NFTChain(name: "external-AAAAAAAA-a/s/tcp/p", rules: [NFTRule(handle: 1, statements: [.verdict(.goto("service-AAAAAAAA-a/s/tcp/p"))])]),
            NFTChain(name: "service-AAAAAAAA-a/s/tcp/p", rules: [NFTRule(handle: 2, statements: [.dnat(.literal(address: Self.ip("10.0.0.1"), port: 80))])]),
        ]
        let lbKey: [NFTAtom] = [.address(Self.ip("198.51.100.1")), .proto(6), .port(80)]
        let r = Self.ruleset(
            chains: chains,
            serviceIPs: [
                Self.entry("172.30.0.1", 80, goto: "service-AAAAAAAA-a/s/tcp/p"), Self.entry("198.51.100.1", 80, goto: "external-AAAAAAAA-a/s/tcp/p"),
                Self.entry("192.0.2.1", 80, goto: "external-AAAAAAAA-a/s/tcp/p"),
            ],
            extraSets: [
                NFTSet(name: "firewall-ips", isMap: true, elements: [NFTElement(key: lbKey, value: .verdict(.goto("firewall-AAAAAAAA-a/s/tcp/p")))]),
                NFTSet(name: "cluster-ips", isMap: false, elements: [NFTElement(key: [.address(Self.ip("172.30.0.1"))])]),
            ])
        let port = r.kubeProxySnapshot().servicePorts.first
        #expect(port?.frontends.map(\.kind) == [.clusterIP, .externalIP, .loadBalancer])
        #expect(port?.endpoints.map(\.description) == ["10.0.0.1:80"])
    }
}
