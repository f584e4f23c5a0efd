import SettleKubeProxyRules
import SettleModel
import Testing

/// Chain-name hashing against the vectors in the reference and upstream tests.
struct ChainNameTests {
    /// The nftables service-port hash of `ns1/svc1/tcp/p80` is `ULMVA6XW` (upstream proxier_test.go).
    @Test("nftables service chain names hash like kube-proxy")
    func nftablesServiceChain() {
        #expect(NFTablesNames.serviceChain(spn("ns1", "svc1", "p80"), protocol: .tcp) == "service-ULMVA6XW-ns1/svc1/tcp/p80")
        #expect(
            NFTablesNames.serviceChain(spn("default", "kubernetes", "https"), protocol: .tcp)
                == "service-2QRHZV4L-default/kubernetes/tcp/https")
        #expect(NFTablesNames.externalChain(spn("ns2", "svc2", "p80"), protocol: .tcp) == "external-42NFTM6N-ns2/svc2/tcp/p80")
        #expect(NFTablesNames.localChain(spn("ns2", "svc2", "p80"), protocol: .tcp) == "local-42NFTM6N-ns2/svc2/tcp/p80")
        #expect(NFTablesNames.firewallChain(spn("ns5", "svc5", "p80"), protocol: .tcp) == "firewall-HVFWP5L3-ns5/svc5/tcp/p80")
    }

    /// `ns1/svc1/tcp/p80__10.180.0.1/80` hashes to `5OJB2KTY`; affinity sets share the endpoint hash.
    @Test("nftables endpoint chain and affinity set names hash like kube-proxy")
    func nftablesEndpointChain() {
        let name = spn("ns1", "svc1", "p80")
        #expect(
            NFTablesNames.endpointChain(name, protocol: .tcp, endpoint: ep("10.180.0.1", 80))
                == "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80")
        #expect(
            NFTablesNames.affinitySet(spn("ns5", "svc5", "p80"), protocol: .tcp, endpoint: ep("10.180.0.3", 80))
                == "affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80")
    }

    /// IPv6 endpoint addresses replace `:` by `.` and the port separator stays `/`.
    @Test("nftables IPv6 endpoint chain names replace colons with dots")
    func nftablesIPv6() {
        let chain = NFTablesNames.endpointChain(spn("ns1", "svc1", "p80"), protocol: .tcp, endpoint: ep("fd00:10::1", 80))
        #expect(chain.hasPrefix("endpoint-"))
        #expect(chain.hasSuffix("-ns1/svc1/tcp/p80__fd00.10..1/80"))
        #expect(!chain.contains(":"))
    }

    /// An unnamed port leaves a trailing slash, as `fmt.Sprintf("%s/%s/%s/%s")` does.
    @Test("unnamed ports keep the trailing slash in nftables chain names")
    func unnamedPort() {
        let chain = NFTablesNames.serviceChain(spn("ns", "svc", ""), protocol: .udp)
        #expect(chain.hasSuffix("-ns/svc/udp/"))
        #expect(chain.count == "service-".count + 8 + 1 + "ns/svc/udp/".count)
    }

    /// Names longer than 240 characters are cut to 237 plus `...`.
    @Test("over-long nftables chain bases are truncated to 240 characters")
    func truncation() {
        let long = String(repeating: "a", count: 63)
        let base = NFTablesNames.endpointChainBase(
            spn(long, long, long), protocol: .sctp, endpoint: ep("fd00:1111:2222:3333:4444:5555:6666:7777", 65535))
        #expect(base.count == 240)
        #expect(base.hasSuffix("..."))
    }

    /// iptables vectors: `ns1/svc1:p80`+`tcp` → `XPGD46QRK7WJZT7O`; SEP with `10.180.0.1:80` → `SXIVWICOYRO3J4NJ`.
    @Test("iptables chain names hash like kube-proxy")
    func iptablesNames() {
        let name = spn("ns1", "svc1", "p80")
        #expect(IPTablesNames.svc(name, protocol: .tcp) == "KUBE-SVC-XPGD46QRK7WJZT7O")
        #expect(IPTablesNames.svl(name, protocol: .tcp) == "KUBE-SVL-XPGD46QRK7WJZT7O")
        #expect(IPTablesNames.ext(name, protocol: .tcp) == "KUBE-EXT-XPGD46QRK7WJZT7O")
        #expect(IPTablesNames.fw(name, protocol: .tcp) == "KUBE-FW-XPGD46QRK7WJZT7O")
        #expect(IPTablesNames.sep(name, protocol: .tcp, endpoint: ep("10.180.0.1", 80)) == "KUBE-SEP-SXIVWICOYRO3J4NJ")
        #expect(IPTablesNames.portProtoHash(spn("default", "kubernetes", "https"), protocol: .tcp) == "NPX46M4PTMTKRN6Y")
        #expect(IPTablesNames.svc(spn("ns2", "svc2", "p80"), protocol: .tcp) == "KUBE-SVC-GNZBNJ2PO5MGZ6GT")
        #expect(IPTablesNames.sep(spn("ns4", "svc4", "p80"), protocol: .tcp, endpoint: ep("10.180.0.5", 80)) == "KUBE-SEP-C6EBXVWJJZMIWKLZ")
    }

    /// Endpoint order is by the `"IP:port"` string, so `10.244.0.10` sorts before `10.244.0.8`.
    @Test("endpoints are ordered by their IP:port string, as kube-proxy orders them")
    func endpointOrder() {
        let sorted = ProxyServicePort.kubeProxyOrder([
            ep("10.244.0.8", 80), ep("10.244.0.10", 80), ep("10.244.0.8", 80), ep("10.244.0.8", 8080), ep("9.0.0.1", 1),
        ])
        #expect(sorted.map(\.description) == ["10.244.0.10:80", "10.244.0.8:80", "10.244.0.8:8080", "9.0.0.1:1"])
    }
}
