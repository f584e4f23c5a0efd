import SettleKubeProxyRules
import SettleModel

/// Service ports covering every shape the writers emit: dual stack, UDP/SCTP, unnamed ports,
/// affinity, ETP/ITP Local (with and without local endpoints), no endpoints, LB with source ranges.
let coverageServices: [ProxyServicePort] = [
    ProxyServicePort(
        name: spn("default", "kubernetes", "https"), clusterIPs: [ip("172.30.0.1")], port: 443,
        clusterEndpoints: [ep("192.168.0.2", 6443)]),
    ProxyServicePort(
        name: spn("kube-system", "dns", "dns"), protocol: .udp, clusterIPs: [ip("172.30.0.10"), ip("fd00:10:96::a")],
        port: 53, clusterEndpoints: [ep("10.244.0.5", 53), ep("10.244.1.5", 53), ep("fd00:10::5", 53), ep("fd00:10::15", 53)],
        localEndpoints: [ep("10.244.0.5", 53), ep("fd00:10::5", 53)]),
    ProxyServicePort(
        name: spn("kube-system", "dns", "dns-tcp"), protocol: .tcp, clusterIPs: [ip("172.30.0.10"), ip("fd00:10:96::a")],
        port: 53, clusterEndpoints: [ep("10.244.0.5", 53), ep("fd00:10::5", 53)]),
    ProxyServicePort(
        name: spn("shop", "sctp", ""), protocol: .sctp, clusterIPs: [ip("172.30.0.20")], port: 9000,
        clusterEndpoints: [ep("10.244.2.1", 9000), ep("10.244.2.2", 9000)]),
    ProxyServicePort(
        name: spn("shop", "web", ""), clusterIPs: [ip("172.30.0.21"), ip("fd00:10:96::21")], port: 80, nodePort: 30080,
        externalIPs: [ip("192.168.99.21")], affinityTimeoutSeconds: 10800,
        clusterEndpoints: [ep("10.244.0.8", 8080), ep("10.244.0.10", 8080), ep("fd00:10::8", 8080)]),
    ProxyServicePort(
        name: spn("shop", "lb", "http"), clusterIPs: [ip("172.30.0.22"), ip("fd00:10:96::22")], port: 80, nodePort: 30081,
        loadBalancerIPs: [ip("1.2.3.4"), ip("2001:db8::4")],
        loadBalancerSourceRanges: ["203.0.113.0/25", " 192.168.0.0/24", "2001:db8:1::/64"], externalTrafficPolicyLocal: true,
        healthCheckNodePort: 30000,
        clusterEndpoints: [ep("10.244.0.8", 8080), ep("10.244.3.8", 8080), ep("fd00:10::8", 8080)],
        localEndpoints: [ep("10.244.0.8", 8080), ep("fd00:10::8", 8080)]),
    ProxyServicePort(
        name: spn("shop", "lb-nolocal", "http"), clusterIPs: [ip("172.30.0.23")], port: 80, nodePort: 30082,
        loadBalancerIPs: [ip("5.6.7.8")], externalTrafficPolicyLocal: true, healthCheckNodePort: 30001,
        clusterEndpoints: [ep("10.244.3.9", 8080)]),
    ProxyServicePort(
        name: spn("shop", "itp", "p"), clusterIPs: [ip("172.30.0.24")], port: 80, internalTrafficPolicyLocal: true,
        clusterEndpoints: [ep("10.244.0.11", 80), ep("10.244.3.11", 80)], localEndpoints: [ep("10.244.0.11", 80)]),
    ProxyServicePort(
        name: spn("shop", "itp-nolocal", "p"), clusterIPs: [ip("172.30.0.25")], port: 80, internalTrafficPolicyLocal: true,
        clusterEndpoints: [ep("10.244.3.12", 80)]),
    ProxyServicePort(
        name: spn("shop", "empty", "p"), clusterIPs: [ip("172.30.0.26"), ip("fd00:10:96::26")], port: 80, nodePort: 30083,
        externalIPs: [ip("192.168.99.26")], loadBalancerIPs: [ip("9.10.11.12")], loadBalancerSourceRanges: ["203.0.113.0/25"]),
    ProxyServicePort(
        name: spn("shop", "single", "p"), clusterIPs: [ip("fd00:10:96::27")], port: 8443,
        clusterEndpoints: [ep("fd00:10::27", 8443)]),
]

/// Writer settings the kernel tests share.
func coverageNFTWriter(_ layout: NFTablesRuleWriter.Layout, nodePorts: Bool) -> NFTablesRuleWriter {
    NFTablesRuleWriter(
        layout: layout, nodePortAddresses: nodePorts ? [ip("192.168.0.2"), ip("2001:db8::1")] : nil,
        nodeIPs: [ip("192.168.0.2"), ip("2001:db8::1")])
}

/// How many `add element … <name> { … }` lines a one-element-per-statement transaction has.
func elementLines(_ transaction: String, family: String, name: String) -> Int {
    lines(transaction).filter { $0.hasPrefix("add element \(family) kube-proxy \(name) {") }.count
}
