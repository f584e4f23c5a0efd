import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleModel
import Testing

/// Loads kube-proxy-shaped rulesets into a scratch namespace and reads them back through both
/// nftables paths (netlink+libnftnl and libnftables JSON), which must agree exactly.
@Suite(.serialized, requiresRoot)
struct NFTablesReaderTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/nftables/\(name).nft")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Reads the namespace through both paths, checks they agree, and returns the snapshot.
    static func readBoth(_ ns: TestNamespace) async throws -> DataplaneSnapshot {
        let netlink = NFTablesReader(netns: ns.name, path: .netlink)
        let json = NFTablesReader(netns: ns.name, path: .libnftables)
        let viaNetlink = try await netlink.readRuleset()
        let viaJSON = try await json.readRuleset()
        #expect(viaNetlink.normalisedForComparison == viaJSON.normalisedForComparison, "netlink and libnftables disagree")
        let a = try await netlink.read()
        let b = try await json.read()
        #expect(a == b)
        return a
    }

    static func port(_ snapshot: DataplaneSnapshot, _ name: String, _ proto: L4Protocol = .tcp) throws -> RoutedServicePort {
        try #require(snapshot.servicePorts.first { $0.name?.description == name && $0.protocol == proto }, "no \(name)/\(proto)")
    }

    static func endpoints(_ port: RoutedServicePort) -> Set<String> { Set(port.endpoints.map(\.description)) }
    static func frontends(_ port: RoutedServicePort) -> Set<String> { Set(port.frontends.map(\.description)) }

    @Test("per-endpoint chains behind numgen vmaps (1.29–1.35): only reachable endpoint chains count")
    func endpointChains() async throws {
        let ns = try TestNamespace()
        try ns.nft(Self.fixture("gen-a-endpoint-chains"))
        let snapshot = try await Self.readBoth(ns)
        #expect(snapshot.mode == .nftables)
        #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
        let svc1 = try Self.port(snapshot, "ns1/svc1:p80")
        // endpoint-BBBBBBBB…10.180.0.3 exists but nothing jumps to it (a flushed stale chain).
        #expect(Self.endpoints(svc1) == ["10.180.0.1:80", "10.180.0.2:80"])
        #expect(Self.frontends(svc1) == ["clusterIP 172.30.0.41:80", "externalIP 1.2.3.4:80", "nodePort *:30080"])
        #expect(Self.endpoints(try Self.port(snapshot, "ns2/svc2", .udp)) == ["10.244.0.8:9898", "10.244.0.10:9898"])
        #expect(Self.endpoints(try Self.port(snapshot, "ns3/svc3:http")) == ["10.244.0.5:8080"])
        let empty = try Self.port(snapshot, "ns4/svc4:p80")
        #expect(empty.endpoints.isEmpty)
        #expect(Self.frontends(empty) == ["clusterIP 172.30.0.44:80"])
        #expect(snapshot.servicePorts.count == 4)
    }

    @Test("inline numgen maps (1.36), direct DNAT (1.37), dual stack, UDP/SCTP, Local chains, foreign tables ignored")
    func inlineMapsDualStack() async throws {
        let ns = try TestNamespace()
        try ns.nft(Self.fixture("gen-b-inline-map-dual-stack"))
        let snapshot = try await Self.readBoth(ns)
        #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
        let web = try Self.port(snapshot, "shop/web:http")
        #expect(
            Self.endpoints(web) == ["10.244.1.7:8080", "10.244.1.10:8080", "10.244.2.9:8080", "[fd00:10::7]:8080", "[fd00:10::a]:8080"])
        #expect(
            Self.frontends(web) == [
                "clusterIP 172.30.1.1:80", "clusterIP [fd00:30::1]:80", "externalIP 192.0.2.10:80", "loadBalancer 198.51.100.7:80",
                "nodePort *:30080",
            ])
        #expect(Self.endpoints(try Self.port(snapshot, "kube-system/dns:dns", .udp)) == ["10.244.0.2:53", "10.244.0.3:53"])
        #expect(Self.endpoints(try Self.port(snapshot, "kube-system/dns:dns-tcp", .tcp)) == ["10.244.0.2:53", "10.244.0.3:53"])
        #expect(Self.endpoints(try Self.port(snapshot, "tel/sig", .sctp)) == ["10.244.3.3:3868"])
        #expect(Self.endpoints(try Self.port(snapshot, "mon/agent:metrics")) == ["10.244.1.20:9100"])
        #expect(Self.endpoints(try Self.port(snapshot, "v6only/api:grpc")) == ["[fd00:10::20]:9090"])
        let none = try Self.port(snapshot, "empty/none:https")
        #expect(none.endpoints.isEmpty)
        #expect(Self.frontends(none) == ["clusterIP 172.30.9.9:443", "nodePort *:30443"])
        // The foreign tables' lookalike chains and maps contribute nothing.
        #expect(!snapshot.servicePorts.contains { $0.endpoints.contains { $0.ip == IPAddress("10.66.66.66") || $0.ip == IPAddress("10.99.99.99") } })
        #expect(snapshot.servicePorts.count == 7)
    }

    @Test("an endpoint removed by a later sync stops counting once its chain is unreferenced, even before deletion")
    func drainAfterPartialSync() async throws {
        let ns = try TestNamespace()
        try ns.nft(Self.fixture("gen-a-endpoint-chains"))
        // kube-proxy's partial sync: rewrite the service chain, flush (not yet delete) the endpoint chain.
        try ns.nft(
            """
            flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80
            add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }
            flush chain ip kube-proxy endpoint-AAAAAAAA-ns1/svc1/tcp/p80__10.180.0.2/80
            """)
        let snapshot = try await Self.readBoth(ns)
        #expect(Self.endpoints(try Self.port(snapshot, "ns1/svc1:p80")) == ["10.180.0.1:80"])
    }

    @Test("ClientIP affinity rules reach only endpoints that are still listed")
    func affinity() async throws {
        let ns = try TestNamespace()
        try ns.nft(
            """
            table ip kube-proxy {
              map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
              set affinity-X1X1X1X1-a/sticky/tcp/http__10.1.0.1/80 { type ipv4_addr; flags dynamic,timeout; timeout 10800s; }
              set affinity-X2X2X2X2-a/sticky/tcp/http__10.1.0.2/80 { type ipv4_addr; flags dynamic,timeout; timeout 10800s; }
              chain mark-for-masquerade { meta mark set meta mark | 0x4000; }
              chain service-STICKY01-a/sticky/tcp/http {
                ip saddr @affinity-X1X1X1X1-a/sticky/tcp/http__10.1.0.1/80 goto endpoint-X1X1X1X1-a/sticky/tcp/http__10.1.0.1/80
                ip saddr @affinity-X2X2X2X2-a/sticky/tcp/http__10.1.0.2/80 goto endpoint-X2X2X2X2-a/sticky/tcp/http__10.1.0.2/80
                numgen random mod 2 vmap { 0 : goto endpoint-X1X1X1X1-a/sticky/tcp/http__10.1.0.1/80, 1 : goto endpoint-X2X2X2X2-a/sticky/tcp/http__10.1.0.2/80 }
              }
              chain endpoint-X1X1X1X1-a/sticky/tcp/http__10.1.0.1/80 {
                ip saddr 10.1.0.1 jump mark-for-masquerade
                update @affinity-X1X1X1X1-a/sticky/tcp/http__10.1.0.1/80 { ip saddr }
                meta l4proto tcp dnat to 10.1.0.1:80
              }
              chain endpoint-X2X2X2X2-a/sticky/tcp/http__10.1.0.2/80 {
                ip saddr 10.1.0.2 jump mark-for-masquerade
                update @affinity-X2X2X2X2-a/sticky/tcp/http__10.1.0.2/80 { ip saddr }
                meta l4proto tcp dnat to 10.1.0.2:80
              }
            }
            add element ip kube-proxy service-ips { 172.30.5.5 . tcp . 80 : goto service-STICKY01-a/sticky/tcp/http }
            """)
        let snapshot = try await Self.readBoth(ns)
        #expect(Self.endpoints(try Self.port(snapshot, "a/sticky:http")) == ["10.1.0.1:80", "10.1.0.2:80"])
        #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
    }

    @Test("a DNAT whose address the reader cannot resolve is skipped with a warning naming the chain")
    func unknownShape() async throws {
        let ns = try TestNamespace()
        try ns.nft(
            """
            table ip kube-proxy {
              map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
              chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept; }
              chain service-ODDODDOD-odd/svc/tcp/p { meta l4proto tcp dnat ip to ip saddr; }
              chain service-GOODGOOD-ok/svc/tcp/p { meta l4proto tcp dnat to 10.2.0.1:80; }
            }
            add element ip kube-proxy service-ips { 172.30.7.1 . tcp . 80 : goto service-ODDODDOD-odd/svc/tcp/p, 172.30.7.2 . tcp . 80 : goto service-GOODGOOD-ok/svc/tcp/p }
            """)
        for path in NFTablesReader.Path.allCases {
            let snapshot = try await NFTablesReader(netns: ns.name, path: path).read()
            #expect(try Self.port(snapshot, "odd/svc:p").endpoints.isEmpty)
            #expect(Self.endpoints(try Self.port(snapshot, "ok/svc:p")) == ["10.2.0.1:80"])
            #expect(snapshot.warnings.contains { $0.contains("service-ODDODDOD-odd/svc/tcp/p") }, "\(path): \(snapshot.warnings)")
        }
    }

    @Test("a namespace without kube-proxy tables gives an empty snapshot and a note, not an error")
    func noTables() async throws {
        let ns = try TestNamespace()
        for path in NFTablesReader.Path.allCases {
            let snapshot = try await NFTablesReader(netns: ns.name, path: path).read()
            #expect(snapshot.servicePorts.isEmpty)
            #expect(snapshot.warnings.first?.contains("no kube-proxy nftables tables") == true)
        }
        #expect(try await NFTablesReader.probe(netns: ns.name) == false)
    }

    @Test("a missing namespace is a clear error")
    func missingNamespace() async throws {
        await #expect(throws: DataplaneError.namespaceNotFound("settle-does-not-exist")) {
            _ = try await NFTablesReader(netns: "settle-does-not-exist").read()
        }
    }
}

extension NFTRuleset {
    /// The two paths word their "cannot decode" messages differently; compare only that one occurred.
    var normalisedForComparison: NFTRuleset {
        var copy = self
        for t in copy.tables.indices {
            for (name, chain) in copy.tables[t].chains {
                var chain = chain
                for r in chain.rules.indices {
                    chain.rules[r].statements = chain.rules[r].statements.map {
                        if case .unsupported = $0 { return .unsupported("…") }
                        return $0
                    }
                }
                copy.tables[t].chains[name] = chain
            }
        }
        return copy
    }
}
