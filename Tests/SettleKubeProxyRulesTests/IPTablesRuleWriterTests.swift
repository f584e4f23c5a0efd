import SettleKubeProxyRules
import SettleModel
import Testing

/// Exact text of the iptables writer.
struct IPTablesRuleWriterTests {
    /// Upstream's iptables test has no session affinity on svc5.
    var upstreamServices: [ProxyServicePort] {
        upstreamOverallServices.map { port in
            var port = port
            port.affinityTimeoutSeconds = nil
            return port
        }
    }

    let upstreamWriter = IPTablesRuleWriter(
        family: .ipv4, podCIDRs: ["10.0.0.0/8"], nodeIPs: [ip("192.168.0.2")], randomFully: false,
        includeJumpRules: false)

    /// Within each table the rules equal upstream's `TestOverallIPTablesRules`, order-insensitive
    /// as upstream's `assertIPTablesRulesEqual` sorts them.
    @Test("iptables output matches upstream TestOverallIPTablesRules")
    func matchesUpstream() {
        let actual = tables(upstreamWriter.restoreInput(for: upstreamServices))
        let expected = tables(upstreamOverallIPTablesRules)
        #expect(actual.keys.sorted() == ["filter", "nat"])
        for table in ["filter", "nat"] {
            let missing = expected[table, default: []].subtracting(actual[table, default: []]).sorted()
            let extra = actual[table, default: []].subtracting(expected[table, default: []]).sorted()
            #expect(missing == [], "\(table) missing: \(missing.joined(separator: "\n"))")
            #expect(extra == [], "\(table) extra: \(extra.joined(separator: "\n"))")
        }
    }

    /// `%0.10f` of 1/n: 0.5000000000, 0.3333333333, 0.2500000000; ties round to even like Go.
    @Test("probabilities are written with ten decimals as kube-proxy writes them")
    func probability() {
        #expect(IPTablesRuleWriter.probability(2) == "0.5000000000")
        #expect(IPTablesRuleWriter.probability(3) == "0.3333333333")
        #expect(IPTablesRuleWriter.probability(6) == "0.1666666667")
        #expect(IPTablesRuleWriter.probability(7) == "0.1428571429")
        #expect(IPTablesRuleWriter.probability(2048) == "0.0004882812")
        #expect(IPTablesRuleWriter.probability(1) == "1.0000000000")
    }

    /// Three endpoints give the 1/3, 1/2, rest cascade, in `"IP:port"` order.
    @Test("statistic cascade and affinity recent rules follow kube-proxy")
    func cascadeAndAffinity() {
        let port = ProxyServicePort(
            name: spn("ns", "web", "http"), clusterIPs: [ip("172.30.0.9")], port: 80, affinityTimeoutSeconds: 10800,
            clusterEndpoints: [ep("10.244.0.8", 8080), ep("10.244.0.10", 8080), ep("10.244.1.1", 8080)])
        let text = IPTablesRuleWriter(podCIDRs: []).restoreInput(for: [port])
        let svc = IPTablesNames.svc(port.name, protocol: .tcp)
        let sep10 = IPTablesNames.sep(port.name, protocol: .tcp, endpoint: ep("10.244.0.10", 8080))
        let sep8 = IPTablesNames.sep(port.name, protocol: .tcp, endpoint: ep("10.244.0.8", 8080))
        let sep1 = IPTablesNames.sep(port.name, protocol: .tcp, endpoint: ep("10.244.1.1", 8080))
        let svcLines = lines(text).filter { $0.hasPrefix("-A \(svc) ") }
        #expect(svcLines == [
            "-A \(svc) -m comment --comment \"ns/web:http -> 10.244.0.10:8080\" -m recent --name \(sep10) --rcheck --seconds 10800 --reap -j \(sep10)",
            "-A \(svc) -m comment --comment \"ns/web:http -> 10.244.0.8:8080\" -m recent --name \(sep8) --rcheck --seconds 10800 --reap -j \(sep8)",
            "-A \(svc) -m comment --comment \"ns/web:http -> 10.244.1.1:8080\" -m recent --name \(sep1) --rcheck --seconds 10800 --reap -j \(sep1)",
            "-A \(svc) -m comment --comment \"ns/web:http -> 10.244.0.10:8080\" -m statistic --mode random --probability 0.3333333333 -j \(sep10)",
            "-A \(svc) -m comment --comment \"ns/web:http -> 10.244.0.8:8080\" -m statistic --mode random --probability 0.5000000000 -j \(sep8)",
            "-A \(svc) -m comment --comment \"ns/web:http -> 10.244.1.1:8080\" -j \(sep1)",
        ])
        #expect(text.contains("-A \(sep8) -m comment --comment ns/web:http -m recent --name \(sep8) --set -m tcp -p tcp -j DNAT --to-destination 10.244.0.8:8080\n"))
    }

    /// Large-cluster mode drops per-endpoint comments but keeps the KUBE-SERVICES ones.
    @Test("large cluster mode omits per-endpoint comments")
    func largeClusterMode() {
        let port = ProxyServicePort(
            name: spn("ns", "web", ""), clusterIPs: [ip("172.30.0.9")], port: 80,
            clusterEndpoints: [ep("10.244.0.8", 8080), ep("10.244.0.10", 8080)])
        let text = IPTablesRuleWriter(largeClusterMode: true).restoreInput(for: [port])
        let sep = IPTablesNames.sep(port.name, protocol: .tcp, endpoint: ep("10.244.0.8", 8080))
        #expect(text.contains("-A \(sep) -s 10.244.0.8 -j KUBE-MARK-MASQ\n"))
        #expect(text.contains("-A \(sep) -m tcp -p tcp -j DNAT --to-destination 10.244.0.8:8080\n"))
        #expect(!text.contains(" -> "))
        #expect(text.contains("--comment \"ns/web cluster IP\""))
        // Automatic mode switches above 1000 endpoints.
        var big = port
        big.clusterEndpoints = (0..<1001).map { ep("10.\($0 / 250).\($0 % 250).1", 80) }
        #expect(!IPTablesRuleWriter().restoreInput(for: [big]).contains(" -> "))
        #expect(IPTablesRuleWriter().restoreInput(for: [port]).contains(" -> "))
    }

    /// IPv6 writes `[addr]:port` DNAT targets and excludes `::1` from NodePorts.
    @Test("IPv6 output uses bracketed DNAT targets")
    func ipv6() {
        let port = ProxyServicePort(
            name: spn("ns", "v6", "p"), clusterIPs: [ip("172.30.0.9"), ip("fd00:10:96::9")], port: 80, nodePort: 30080,
            clusterEndpoints: [ep("10.1.1.1", 80), ep("fd00:10::1", 80)])
        let text = IPTablesRuleWriter(family: .ipv6).restoreInput(for: [port])
        #expect(text.contains("-j DNAT --to-destination [fd00:10::1]:80\n"))
        #expect(text.contains("-d fd00:10:96::9 --dport 80 ! -s fd00:10::/64 -j KUBE-MARK-MASQ"))
        #expect(text.contains("-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS"))
        #expect(!text.contains("10.1.1.1"))
        #expect(!text.contains("KUBE-FIREWALL"))
    }
}

/// Rule and chain lines per table (`*filter` … `COMMIT`).
func tables(_ text: String) -> [String: Set<String>] {
    var out: [String: Set<String>] = [:]
    var current = ""
    for line in lines(text) {
        if line.hasPrefix("*") {
            current = String(line.dropFirst())
        } else if line != "COMMIT" {
            out[current, default: []].insert(line)
        }
    }
    return out
}
