import SettleKubeProxyRules
import SettleModel

/// Shorthands shared by the tests.
func ip(_ text: String) -> IPAddress { IPAddress(text)! }
func ep(_ text: String, _ port: Int) -> EndpointAddress { EndpointAddress(ip: ip(text), port: port) }
func spn(_ ns: String, _ name: String, _ port: String) -> ServicePortName {
    ServicePortName(namespace: ns, name: name, port: port)
}

/// The six services of upstream `TestOverallNFTablesRules` (KK `pkg/proxy/nftables/proxier_test.go`),
/// with the endpoints kube-proxy selects for node `test-node`.
let upstreamOverallServices: [ProxyServicePort] = [
    ProxyServicePort(
        name: spn("ns1", "svc1", "p80"), clusterIPs: [ip("172.30.0.41")], port: 80,
        clusterEndpoints: [ep("10.180.0.1", 80)]),
    ProxyServicePort(
        name: spn("ns2", "svc2", "p80"), clusterIPs: [ip("172.30.0.42")], port: 80, nodePort: 3001,
        externalIPs: [ip("192.168.99.22")], loadBalancerIPs: [ip("1.2.3.4")], externalTrafficPolicyLocal: true,
        healthCheckNodePort: 30000, clusterEndpoints: [ep("10.180.0.2", 80)]),
    ProxyServicePort(
        name: spn("ns3", "svc3", "p80"), clusterIPs: [ip("172.30.0.43")], port: 80, nodePort: 3003,
        clusterEndpoints: [ep("10.180.0.3", 80)]),
    ProxyServicePort(
        name: spn("ns4", "svc4", "p80"), clusterIPs: [ip("172.30.0.44")], port: 80,
        externalIPs: [ip("192.168.99.33")],
        clusterEndpoints: [ep("10.180.0.5", 80), ep("10.180.0.4", 80)], localEndpoints: [ep("10.180.0.5", 80)]),
    ProxyServicePort(
        name: spn("ns5", "svc5", "p80"), clusterIPs: [ip("172.30.0.45")], port: 80, nodePort: 3002,
        loadBalancerIPs: [ip("5.6.7.8")], loadBalancerSourceRanges: [" 203.0.113.0/25"],
        affinityTimeoutSeconds: 10800, clusterEndpoints: [ep("10.180.0.3", 80)]),
    ProxyServicePort(name: spn("ns6", "svc6", "p80"), clusterIPs: [ip("172.30.0.46")], port: 80),
]

/// Non-empty, trimmed lines of a text, for order-insensitive comparison (upstream's
/// `assertNFTablesTransactionEqual` and `assertIPTablesRulesEqual` also sort).
func lines(_ text: String) -> [String] {
    text.split(separator: "\n").map { String($0).trimmedLine() }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
}

extension String {
    func trimmedLine() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
