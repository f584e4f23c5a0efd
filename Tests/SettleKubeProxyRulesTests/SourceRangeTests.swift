import SettleKubeProxyRules
import SettleModel
import Testing

/// LoadBalancerSourceRanges handling shared by both writers (kube-proxy `newBaseServiceInfo`).
struct SourceRangeTests {
    func port(_ ranges: [String]) -> ProxyServicePort {
        ProxyServicePort(
            name: spn("ns", "lb", "p"), clusterIPs: [ip("172.30.0.5")], port: 80, nodePort: 30005,
            loadBalancerIPs: [ip("1.2.3.4")], loadBalancerSourceRanges: ranges, clusterEndpoints: [ep("10.1.0.1", 80)])
    }

    /// A range containing the node IP also admits the LB VIPs themselves (`allowFromNode`).
    @Test("a source range containing the node IP also allows the load-balancer IPs")
    func allowFromNode() {
        let nft = NFTablesRuleWriter(nodeIPs: [ip("192.168.0.2")]).transaction(for: [port(["192.168.0.0/24", "203.0.113.0/25"])])
        let fw = NFTablesNames.firewallChain(spn("ns", "lb", "p"), protocol: .tcp)
        #expect(nft.contains("add rule ip kube-proxy \(fw) ip saddr != { 192.168.0.0/24 , 203.0.113.0/25 , 1.2.3.4 } drop\n"))
        let ipt = IPTablesRuleWriter(nodeIPs: [ip("192.168.0.2")]).restoreInput(for: [port(["192.168.0.0/24"])])
        let chain = IPTablesNames.fw(spn("ns", "lb", "p"), protocol: .tcp)
        #expect(ipt.contains("-A \(chain) -m comment --comment \"ns/lb:p loadbalancer IP\" -s 1.2.3.4 -j "))
    }

    /// A `/0` range means "allow all": no firewall chain and no `firewall-ips` element; ranges of the
    /// other family are ignored, and the network address is normalised.
    @Test("a /0 range disables the firewall and ranges are normalised per family")
    func allowAll() {
        let writer = NFTablesRuleWriter()
        let fw = NFTablesNames.firewallChain(spn("ns", "lb", "p"), protocol: .tcp)
        let open = writer.transaction(for: [port(["0.0.0.0/0", "10.0.0.0/8"])])
        #expect(!open.contains("add element ip kube-proxy firewall-ips"))
        #expect(!open.contains(fw))
        let v6Only = writer.transaction(for: [port(["2001:db8::/32"])])
        #expect(!v6Only.contains(fw))
        let normalised = writer.transaction(for: [port([" 203.0.113.7/25 "])])
        #expect(normalised.contains("ip saddr != { 203.0.113.0/25 } drop"))
    }

    /// `replaceExisting` deletes the old tables first, so a new state can be loaded over an old one.
    @Test("replaceExisting starts the first batch by deleting the old tables")
    func replaceExisting() {
        var writer = NFTablesRuleWriter()
        writer.replaceExisting = true
        let first = lines(writer.batches(for: [port([])])[0])
        #expect(Array(first.prefix(3)) == [
            "add table ip kube-proxy", "delete table ip kube-proxy",
            "add table ip kube-proxy { comment \"rules for kube-proxy\" ; }",
        ])
    }
}
