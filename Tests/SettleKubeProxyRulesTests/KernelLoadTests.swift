import Foundation
import SettleKubeProxyRules
import SettleModel
import Testing

/// Loads the writers' output into a real kernel in a scratch network namespace (needs root).
@Suite(.enabled(if: ScratchNamespace.available, "needs root to create network namespaces"), .serialized)
struct KernelLoadTests {
    /// Every layout's batches load with `nft -f`, and the kernel holds exactly the elements written.
    @Test("nftables batches load into a real kernel in every layout", arguments: NFTablesRuleWriter.Layout.allCases)
    func nftablesBatches(layout: NFTablesRuleWriter.Layout) throws {
        for nodePorts in [true, false] {
            let writer = coverageNFTWriter(layout, nodePorts: nodePorts)
            let transaction = writer.transaction(for: coverageServices)
            try ScratchNamespace.with { ns in
                for batch in writer.batches(for: coverageServices) { try ns.nft(file: batch) }
                for family in ["ip", "ip6"] {
                    for (kind, name) in [
                        ("map", "service-ips"), ("map", "service-nodeports"), ("map", "no-endpoint-services"),
                        ("map", "no-endpoint-nodeports"), ("map", "firewall-ips"), ("set", "cluster-ips"),
                    ] {
                        let expected = elementLines(transaction, family: family, name: name)
                        #expect(try ns.elementCount(family: family, kind: kind, name: name) == expected, "\(family) \(name)")
                    }
                }
                #expect(try ns.elementCount(family: "ip", kind: "map", name: "service-ips") == 11)
                #expect(try ns.elementCount(family: "ip6", kind: "map", name: "no-endpoint-services") == 1)
                let listing = try ns.exec(["nft", "list", "table", "ip6", "kube-proxy"])
                switch layout {
                case .endpointChains:
                    #expect(listing.contains("dnat to [fd00:10::27]:8443"))
                case .inlineMap:
                    #expect(listing.contains("numgen random mod 1 map { 0 : fd00:10::27 . 8443 }"))
                case .directSingle:
                    #expect(listing.contains("dnat to [fd00:10::27]:8443"))
                    let single = NFTablesNames.endpointChain(
                        spn("shop", "single", "p"), protocol: .tcp, endpoint: ep("fd00:10::27", 8443))
                    #expect(!listing.contains(single))
                }
            }
        }
    }

    /// The single kube-proxy-style transaction also loads, and replacing an existing state works.
    @Test("nftables single transaction loads and replaceExisting reloads over it")
    func nftablesTransactionAndReplace() throws {
        try ScratchNamespace.with { ns in
            try ns.nft(file: coverageNFTWriter(.endpointChains, nodePorts: true).transaction(for: coverageServices))
            var writer = coverageNFTWriter(.directSingle, nodePorts: false)
            writer.replaceExisting = true
            let smaller = Array(coverageServices.prefix(2))
            for batch in writer.batches(for: smaller) { try ns.nft(file: batch) }
            #expect(try ns.elementCount(family: "ip", kind: "map", name: "service-ips") == 2)
            let listing = try ns.exec(["nft", "list", "table", "ip", "kube-proxy"])
            #expect(!listing.contains("mark-for-masquerade"))
        }
    }

    /// iptables output loads with both backends and both families; `iptables-save` shows the
    /// DNAT targets and the statistic probabilities.
    @Test("iptables-restore input loads with nft and legacy backends", arguments: ["nft", "legacy"])
    func iptables(backend: String) throws {
        try ScratchNamespace.with { ns in
            for family in IPAddress.Family.allCases {
                let tool = family == .ipv4 ? "iptables" : "ip6tables"
                let writer = IPTablesRuleWriter(family: family, nodeIPs: [ip("192.168.0.2"), ip("2001:db8::1")])
                try ns.exec(["\(tool)-\(backend)-restore"], stdin: writer.restoreInput(for: coverageServices))
                let nat = try ns.exec(["\(tool)-\(backend)-save", "-t", "nat"])
                let filter = try ns.exec(["\(tool)-\(backend)-save", "-t", "filter"])
                let dns = IPTablesNames.svc(spn("kube-system", "dns", "dns"), protocol: .udp)
                #expect(nat.contains(":\(dns) - [0:0]"))
                if family == .ipv4 {
                    #expect(nat.contains("--to-destination 10.244.0.5:53"))
                    #expect(nat.contains("--probability 0.50000000000"))
                    #expect(filter.contains("\"shop/empty:p has no endpoints\""))
                    #expect(filter.contains("\"shop/itp-nolocal:p has no local endpoints\""))
                    #expect(nat.contains("-m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-"))
                } else {
                    #expect(nat.contains("--to-destination [fd00:10::5]:53"))
                    #expect(!nat.contains("10.244."))
                }
            }
        }
    }
}

/// kube-proxy's partial sync (flush and refill changed chains, element deletes and adds, stale
/// chains flushed then deleted later) loads over the old state and leaves the new state's elements.
@Suite(.enabled(if: ScratchNamespace.available, "needs root to create network namespaces"), .serialized)
struct PartialSyncKernelTests {
    static func changed(_ ports: [ProxyServicePort]) -> [ProxyServicePort] {
        var ports = ports
        // One endpoint fewer in the DNS service, one service gone, one endpoint more elsewhere.
        ports[1].clusterEndpoints.removeFirst()
        ports.remove(at: 2)
        ports[2].clusterEndpoints.append(ep("10.244.2.3", 9000))
        return ports
    }

    @Test("a partial sync loads over the old state and leaves exactly the new state's elements", arguments: NFTablesRuleWriter.Layout.allCases)
    func partialSync(layout: NFTablesRuleWriter.Layout) throws {
        let writer = coverageNFTWriter(layout, nodePorts: true)
        let new = Self.changed(coverageServices)
        let sync = writer.partialSync(from: coverageServices, to: new)
        #expect(sync.update.contains("flush chain ip kube-proxy"))
        #expect(sync.update.contains("delete element ip kube-proxy service-ips"))
        try ScratchNamespace.with { ns in
            try ns.nft(file: writer.transaction(for: coverageServices))
            try ns.nft(file: sync.update)
            if let cleanup = sync.cleanup { try ns.nft(file: cleanup) }
            let transaction = writer.transaction(for: new)
            for family in ["ip", "ip6"] {
                for (kind, name) in [("map", "service-ips"), ("map", "service-nodeports"), ("map", "no-endpoint-services"), ("set", "cluster-ips")] {
                    #expect(try ns.elementCount(family: family, kind: kind, name: name) == elementLines(transaction, family: family, name: name), "\(family) \(name)")
                }
            }
            let listing = try ns.exec(["nft", "list", "table", "ip", "kube-proxy"])
            #expect(listing.contains("10.244.2.3"))
            #expect(!listing.contains("dnat to 10.244.0.5:53") || layout == .inlineMap)
        }
        // Nothing changes: nothing to do.
        let none = writer.partialSync(from: coverageServices, to: coverageServices)
        #expect(none.update.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && none.cleanup == nil)
    }
}
