import SettleKubeProxyRules
import SettleModel
import Testing

/// 10,000 services × 5 endpoints: the counts every layout must produce (no timing assertions).
struct ScaleTests {
    static func services(_ count: Int, endpoints: Int = 5) -> [ProxyServicePort] {
        (0..<count).map { i in
            ProxyServicePort(
                name: spn("ns\(i % 100)", "svc\(i)", "http"),
                clusterIPs: [.v4(0xAC1E_0000 | UInt32(i + 1))],  // 172.30.x.y
                port: 80,
                clusterEndpoints: (0..<endpoints).map { e in
                    EndpointAddress(ip: .v4(0x0A00_0000 | UInt32(i * endpoints + e + 1)), port: 8080)
                })
        }
    }

    /// Per-service counts are exact: Gen A has one service chain and five endpoint chains per
    /// service, Gen B/C one service chain with one numgen map rule.
    @Test("10,000 services with 5 endpoints each produce the expected counts in every layout",
          arguments: NFTablesRuleWriter.Layout.allCases)
    func nftablesCounts(layout: NFTablesRuleWriter.Layout) {
        let writer = NFTablesRuleWriter(layout: layout)
        let ports = Self.services(10_000)
        let base = writer.summary(for: [])
        let full = writer.summary(for: ports)
        switch layout {
        case .endpointChains:
            #expect(full.declarations - base.declarations == 60_000)
            #expect(full.rules - base.rules == 10_000 + 2 * 50_000)
        case .inlineMap, .directSingle:
            #expect(full.declarations - base.declarations == 10_000)
            #expect(full.rules - base.rules == 0)
        }
        #expect(full.mapRules - base.mapRules == 10_000)
        #expect(full.elements - base.elements == 20_000)
        let batches = writer.batches(for: ports).map { $0.split(separator: "\n") }
        #expect(batches.allSatisfy { $0.count <= 1_000 })
        let statements = batches.flatMap { $0 }
        #expect(statements.count == full.declarations + full.rules + full.mapRules + 20)
        // 20,000 per-service elements (plus none of the base ones) travel in statements of at most 1,000.
        let elementStatements = statements.filter { $0.hasPrefix("add element") }
        #expect(elementStatements.count == 20)
        #expect(statements.last?.hasPrefix("add element") == true)
    }

    /// iptables: 50,000 SEP chains, large-cluster mode switches on by itself.
    @Test("10,000 services with 5 endpoints produce 50,000 KUBE-SEP chains in iptables")
    func iptablesCounts() {
        let text = IPTablesRuleWriter().restoreInput(for: Self.services(10_000))
        var sepChains = 0, svcChains = 0, dnat = 0, statistic = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix(":KUBE-SEP-") { sepChains += 1 }
            if line.hasPrefix(":KUBE-SVC-") { svcChains += 1 }
            if line.hasSuffix(":8080") && line.contains("-j DNAT") { dnat += 1 }
            if line.contains("--probability") { statistic += 1 }
        }
        #expect(sepChains == 50_000)
        #expect(svcChains == 10_000)
        #expect(dnat == 50_000)
        #expect(statistic == 40_000)
        #expect(!text.contains(" -> "))
    }

    /// A few thousand services load through the batches into a real kernel (needs root).
    @Test("2,000 services load through the batches into a real kernel",
          .enabled(if: ScratchNamespace.available, "needs root"))
    func kernelLoad() throws {
        let writer = NFTablesRuleWriter(layout: .inlineMap)
        try ScratchNamespace.with { ns in
            for batch in writer.batches(for: Self.services(2_000)) { try ns.nft(file: batch) }
            #expect(try ns.elementCount(family: "ip", kind: "map", name: "service-ips") == 2_000)
        }
    }
}
