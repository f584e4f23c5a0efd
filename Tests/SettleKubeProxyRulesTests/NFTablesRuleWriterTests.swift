import SettleKubeProxyRules
import SettleModel
import Testing

/// Exact text of the nftables writer in each layout.
struct NFTablesRuleWriterTests {
    let upstreamWriter = NFTablesRuleWriter(
        layout: .endpointChains, podCIDRs: ["10.0.0.0/8"], serviceCIDRs: ["172.30.0.0/16"],
        nodePortAddresses: [ip("192.168.0.2")], nodeIPs: [ip("192.168.0.2")])

    /// The Gen A transaction equals upstream's `TestOverallNFTablesRules` expectation, line for line
    /// (order-insensitive, as upstream compares).
    @Test("Gen A output matches upstream TestOverallNFTablesRules")
    func genAMatchesUpstream() {
        let actual = lines(upstreamWriter.transaction(for: upstreamOverallServices))
        let expected = lines(upstreamOverallNFTablesRules)
        #expect(actual.count == Set(actual).count, "duplicate statements")
        let missing = Set(expected).subtracting(actual).sorted()
        let extra = Set(actual).subtracting(expected).sorted()
        #expect(missing == [], "missing: \(missing.joined(separator: "\n"))")
        #expect(extra == [], "extra: \(extra.joined(separator: "\n"))")
    }

    /// Gen B writes the numgen DNAT map in the service chain, keeps endpoint chains only for
    /// affinity services and has no `mark-for-masquerade`.
    @Test("Gen B dispatches with an inline numgen map and drops mark-for-masquerade")
    func genB() {
        let writer = NFTablesRuleWriter(layout: .inlineMap, podCIDRs: ["10.0.0.0/8"], serviceCIDRs: [])
        let port = ProxyServicePort(
            name: spn("ns", "web", "http"), clusterIPs: [ip("172.30.0.9")], port: 80,
            clusterEndpoints: [ep("10.244.0.8", 9898), ep("10.244.0.10", 9898)],
            localEndpoints: [ep("10.244.0.8", 9898)])
        let text = writer.transaction(for: [port])
        let chain = NFTablesNames.serviceChain(port.name, protocol: .tcp)
        #expect(
            text.contains(
                "add rule ip kube-proxy \(chain) meta l4proto tcp dnat ip addr . port to numgen random mod 2 map { 0 : 10.244.0.10 . 9898 , 1 : 10.244.0.8 . 9898 }\n"
            ))
        #expect(!text.contains("mark-for-masquerade"))
        #expect(!text.contains("goto endpoint-"))
        #expect(!text.contains("add chain ip kube-proxy endpoint-"))
        #expect(
            text.contains(
                "add rule ip kube-proxy services ip daddr @cluster-ips ip saddr != 10.0.0.0/8 meta mark set meta mark | 0x4000 comment \"masquerade clusterIP traffic from outside cluster\""
            ))
        #expect(text.contains("add element ip kube-proxy hairpin-connections { 10.244.0.8 . 10.244.0.8 . tcp . 9898 }"))
        #expect(!text.contains("hairpin-connections { 10.244.0.10"))
        // Gen B keeps the map even for one endpoint (v1.36.2 dump: `numgen random mod 1 map`).
        var single = port
        single.clusterEndpoints = [ep("10.244.0.8", 9898)]
        #expect(writer.transaction(for: [single]).contains("numgen random mod 1 map { 0 : 10.244.0.8 . 9898 }"))
    }

    /// Gen C DNATs a single endpoint directly, `[addr]:port` for IPv6, and uses the map otherwise.
    @Test("Gen C writes dnat to IP:port for single-endpoint services")
    func genC() {
        let writer = NFTablesRuleWriter(layout: .directSingle)
        let v4 = ProxyServicePort(
            name: spn("kube-system", "dns", "dns"), protocol: .udp, clusterIPs: [ip("172.30.0.10"), ip("fd00:10:96::a")],
            port: 53, clusterEndpoints: [ep("10.244.0.5", 53), ep("fd00:10::5", 53)])
        let text = writer.transaction(for: [v4])
        let chain = NFTablesNames.serviceChain(v4.name, protocol: .udp)
        #expect(text.contains("add rule ip kube-proxy \(chain) meta l4proto udp dnat to 10.244.0.5:53\n"))
        #expect(text.contains("add rule ip6 kube-proxy \(chain) meta l4proto udp dnat to [fd00:10::5]:53\n"))
        var two = v4
        two.clusterEndpoints.append(ep("fd00:10::6", 53))
        #expect(
            writer.transaction(for: [two]).contains(
                "meta l4proto udp dnat ip6 addr . port to numgen random mod 2 map { 0 : fd00:10::5 . 53 , 1 : fd00:10::6 . 53 }"))
    }

    /// ClientIP affinity keeps per-endpoint chains and affinity sets in Gen B/C, without the hairpin jump.
    @Test("affinity services keep endpoint chains in Gen B and C")
    func affinityInGenC() {
        let writer = NFTablesRuleWriter(layout: .directSingle)
        let port = ProxyServicePort(
            name: spn("ns", "sticky", ""), clusterIPs: [ip("172.30.0.7")], port: 80, affinityTimeoutSeconds: 60,
            clusterEndpoints: [ep("10.0.1.1", 8080)])
        let text = writer.transaction(for: [port])
        let endpointChain = NFTablesNames.endpointChain(port.name, protocol: .tcp, endpoint: ep("10.0.1.1", 8080))
        let set = NFTablesNames.affinitySet(port.name, protocol: .tcp, endpoint: ep("10.0.1.1", 8080))
        #expect(text.contains("add set ip kube-proxy \(set) { type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }"))
        #expect(text.contains("numgen random mod 1 vmap { 0 : goto \(endpointChain) }"))
        #expect(text.contains("add rule ip kube-proxy \(endpointChain) update @\(set) { ip saddr }"))
        #expect(!text.contains("\(endpointChain) ip saddr 10.0.1.1"))
    }

    /// ITP Local routes the ClusterIP to `local-…`; with no local endpoints it drops instead of rejecting.
    @Test("internal Local policy uses the local chain, and drops without local endpoints")
    func internalLocal() {
        let writer = NFTablesRuleWriter()
        var port = ProxyServicePort(
            name: spn("ns", "itp", "p"), clusterIPs: [ip("172.30.0.8")], port: 80, internalTrafficPolicyLocal: true,
            clusterEndpoints: [ep("10.1.0.1", 80), ep("10.1.0.2", 80)], localEndpoints: [ep("10.1.0.2", 80)])
        let local = NFTablesNames.localChain(port.name, protocol: .tcp)
        let text = writer.transaction(for: [port])
        #expect(text.contains("add element ip kube-proxy service-ips { 172.30.0.8 . tcp . 80 : goto \(local) }"))
        #expect(!text.contains(NFTablesNames.serviceChain(port.name, protocol: .tcp)))
        port.localEndpoints = []
        let dropped = writer.transaction(for: [port])
        #expect(dropped.contains("add element ip kube-proxy no-endpoint-services { 172.30.0.8 . tcp . 80 comment \"ns/itp:p\" : drop }"))
        port.clusterEndpoints = []
        #expect(writer.transaction(for: [port]).contains("comment \"ns/itp:p\" : goto reject-chain }"))
    }

    /// ETP Local with local endpoints ends the external chain with `goto local-…`.
    @Test("external Local policy falls through to the local chain")
    func externalLocal() {
        let writer = NFTablesRuleWriter(layout: .inlineMap)
        let port = ProxyServicePort(
            name: spn("ns", "etp", "p"), clusterIPs: [ip("172.30.0.8")], port: 80, nodePort: 30080,
            externalTrafficPolicyLocal: true,
            clusterEndpoints: [ep("10.1.0.1", 80), ep("10.1.0.2", 80)], localEndpoints: [ep("10.1.0.2", 80)])
        let text = writer.transaction(for: [port])
        let external = NFTablesNames.externalChain(port.name, protocol: .tcp)
        #expect(text.contains("add rule ip kube-proxy \(external) goto \(NFTablesNames.localChain(port.name, protocol: .tcp))"))
        #expect(text.contains("fib saddr type local mark set mark or 0x4000 comment \"masquerade local traffic\""))
        #expect(text.contains("add element ip kube-proxy service-nodeports { tcp . 30080 : goto \(external) }"))
        #expect(!text.contains("add element ip kube-proxy no-endpoint-nodeports"))
    }

    /// Without `nodePortAddresses` NodePorts match `fib daddr type local` and there is no `nodeport-ips` set.
    @Test("nodePortAddresses nil writes the fib daddr type local variant")
    func fibNodePorts() {
        let text = NFTablesRuleWriter().transaction(for: [])
        #expect(text.contains("services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"))
        #expect(!text.contains("nodeport-ips"))
    }

    /// Batches hold declarations, plain rules, map rules and elements, in that order, and add up
    /// to the transaction; within every chain plain rules precede map rules.
    @Test("batches split the transaction in four ordered groups")
    func batches() {
        for layout in NFTablesRuleWriter.Layout.allCases {
            var writer = upstreamWriter
            writer.layout = layout
            writer.elementsPerStatement = 1
            let batches = writer.batches(for: upstreamOverallServices)
            #expect(batches.count == 4)
            #expect(lines(batches[0]).allSatisfy { $0.hasPrefix("add table") || $0.hasPrefix("add chain") || $0.hasPrefix("add set") || $0.hasPrefix("add map") })
            #expect(lines(batches[1]).allSatisfy { $0.hasPrefix("add rule") && !$0.contains(" vmap ") && !$0.contains(" map {") })
            #expect(lines(batches[2]).allSatisfy { $0.hasPrefix("add rule") && ($0.contains(" vmap ") || $0.contains(" map {")) })
            #expect(lines(batches[3]).allSatisfy { $0.hasPrefix("add element") })
            #expect(Set(batches.flatMap(lines)) == Set(lines(writer.transaction(for: upstreamOverallServices))))
            // Within each chain, no plain rule may follow a map rule in the single transaction.
            var sawMapRule = Set<String>()
            for line in lines(writer.transaction(for: upstreamOverallServices)) where line.hasPrefix("add rule") {
                let chain = line.split(separator: " ")[4]
                let isMap = line.contains(" vmap ") || line.contains(" map {")
                #expect(isMap || !sawMapRule.contains(String(chain)), "\(line)")
                if isMap { sawMapRule.insert(String(chain)) }
            }
        }
    }
}
