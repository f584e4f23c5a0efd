import SettleModel
import Testing

/// Every component compares addresses through ``IPAddress``, so its parsing and printing decide
/// whether a desired endpoint and a routed one are "the same".
struct IPAddressTests {
    @Test("prints IPv6 in RFC 5952 form whatever the input spelling", arguments: [
        ("fd00:10:0:0:0:0:0:7", "fd00:10::7"),
        ("FD00::0:1", "fd00::1"),
        ("::", "::"),
        ("::1", "::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::ffff:10.1.2.3", "::ffff:a01:203"),
    ])
    func ipv6Canonical(input: String, expected: String) throws {
        #expect(try #require(IPAddress(input)).description == expected)
    }

    @Test("reads IPv4 octets with leading zeros as decimal, as kube-proxy's ParseIPSloppy does")
    func sloppyIPv4() throws {
        #expect(try #require(IPAddress("010.001.002.003")).description == "10.1.2.3")
    }

    @Test("rejects what is not an address", arguments: ["", "1.2.3", "1.2.3.256", "1.2.3.4.5", "fd00:::1", "1::2::3", "g::1", "1.2.3.-4", "fe80::1%eth0"])
    func rejects(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test("round-trips through network-order bytes")
    func bytes() throws {
        for text in ["10.244.1.7", "fd00:10::a", "255.255.255.255"] {
            let ip = try #require(IPAddress(text))
            #expect(IPAddress(bytes: ip.bytes) == ip)
        }
        #expect(IPAddress(bytes: [10, 0, 0]) == nil)
    }

    @Test("host:port spelling brackets IPv6 as kube-proxy and iptables do")
    func hostPort() throws {
        #expect(try #require(IPAddress("fd00::7")).hostPort(80) == "[fd00::7]:80")
        #expect(try #require(IPAddress("10.0.0.1")).hostPort(80) == "10.0.0.1:80")
    }

    @Test("service port names print as kube-proxy's String() and parse back")
    func servicePortName() throws {
        let named = ServicePortName(namespace: "ns", name: "svc", port: "http")
        #expect(named.description == "ns/svc:http")
        #expect(ServicePortName(parsing: "ns/svc:http") == named)
        #expect(ServicePortName(parsing: "ns/svc") == ServicePortName(namespace: "ns", name: "svc", port: ""))
        #expect(ServicePortName(parsing: "nonamespace") == nil)
    }
}
