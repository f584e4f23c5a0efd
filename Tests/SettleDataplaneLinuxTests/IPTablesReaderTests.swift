import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleModel
import Testing

/// Loads kube-proxy-shaped `iptables-save` dumps into a scratch namespace with `iptables-nft-restore` or
/// `iptables-legacy-restore` (and the ip6tables variants) and reads them back through ``IPTablesReader``.
///
/// The dumps are the ones the pure walker tests use (`SettleDataplaneTests/Fixtures/iptables/`); each was
/// checked to come back byte-for-byte from `iptables-nft-save`, so they are what kube-proxy leaves behind.
@Suite(.serialized, requiresRoot)
struct IPTablesReaderTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../SettleDataplaneTests/Fixtures/iptables").standardized

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
    }

    static func restore(_ ns: TestNamespace, _ backend: IPTablesReader.Backend, v4: String? = nil, v6: String? = nil) throws {
        let flavour = backend == .legacy ? "legacy" : "nft"
        if let v4 { try ns.exec("iptables-\(flavour)-restore", [], input: v4) }
        if let v6 { try ns.exec("ip6tables-\(flavour)-restore", [], input: v6) }
    }

    static func port(_ snapshot: DataplaneSnapshot, _ name: String, _ proto: L4Protocol = .tcp) throws -> RoutedServicePort {
        try #require(snapshot.servicePorts.first { $0.name?.description == name && $0.protocol == proto }, "no \(name)/\(proto)")
    }

    static func endpoints(_ port: RoutedServicePort) -> Set<String> { Set(port.endpoints.map(\.description)) }
    static func frontends(_ port: RoutedServicePort) -> Set<String> { Set(port.frontends.map(\.description)) }

    /// The composed cluster dump, loaded into either backend, is found by `auto` and read exactly.
    @Test(arguments: [IPTablesReader.Backend.nft, .legacy])
    func clusterDump(backend: IPTablesReader.Backend) async throws {
        let ns = try TestNamespace()
        let text = try Self.fixture("cluster-v4.txt")
        try Self.restore(ns, backend, v4: text)

        #expect(await IPTablesReader.detect(netns: ns.name) == backend)
        let snapshot = try await IPTablesReader(netns: ns.name).read()
        #expect(snapshot.mode == .iptables)
        #expect(snapshot.warnings == [])
        #expect(snapshot.servicePorts.count == 9)
        #expect(Self.endpoints(try Self.port(snapshot, "shop/web:http")) == ["10.244.1.7:8080", "10.244.2.9:8080"])
        let front = try Self.port(snapshot, "shop/front:https")
        #expect(Self.frontends(front) == [
            "clusterIP 172.30.0.10:443", "externalIP 192.0.2.10:443", "loadBalancer 198.51.100.7:443", "nodePort *:30443",
        ])
        #expect(Self.endpoints(front) == ["10.244.3.3:8443"])
        #expect(Self.endpoints(try Self.port(snapshot, "shop/local:http")) == ["10.244.1.20:8080", "10.244.2.20:8080"])
        #expect(Self.endpoints(try Self.port(snapshot, "shop/itp:http")) == ["10.244.1.30:80"])
        #expect(Self.endpoints(try Self.port(snapshot, "shop/sticky:http")) == ["10.244.1.40:80", "10.244.2.40:80"])
        #expect(Self.endpoints(try Self.port(snapshot, "kube-system/kube-dns:dns", .udp)) == ["10.244.0.5:53"])
        #expect(Self.endpoints(try Self.port(snapshot, "tel/sig:sig", .sctp)) == ["10.244.0.6:3868"])
        #expect(Self.endpoints(try Self.port(snapshot, "default/plain")) == ["10.244.0.7:8000"])
        let empty = try Self.port(snapshot, "shop/empty:http")
        #expect(empty.endpoints.isEmpty)
        #expect(Self.frontends(empty) == ["clusterIP 172.30.0.80:80", "loadBalancer 198.51.100.9:80", "nodePort *:30080"])
        // The live read sees exactly what the pure walker sees in the text that was loaded.
        #expect(snapshot.servicePorts == IPTablesWalker.snapshot(ipv4Text: text, ipv6Text: nil).servicePorts)

        // Naming the backend reads the same; naming the other one finds no kube-proxy chains.
        #expect(try await IPTablesReader(netns: ns.name, backend: backend).read() == snapshot)
        let other = try await IPTablesReader(netns: ns.name, backend: backend == .nft ? .legacy : .nft).read()
        #expect(other.servicePorts.isEmpty)
        #expect(other.warnings == [IPTablesWalker.noChainsWarning])
    }

    /// IPv4 and IPv6 rules of one backend merge into one service port per name and protocol.
    @Test(arguments: [IPTablesReader.Backend.nft, .legacy])
    func dualStack(backend: IPTablesReader.Backend) async throws {
        let ns = try TestNamespace()
        try Self.restore(ns, backend, v4: try Self.fixture("cluster-v4.txt"), v6: try Self.fixture("cluster-v6.txt"))
        let snapshot = try await IPTablesReader(netns: ns.name).read()
        #expect(snapshot.warnings == [])
        let web = try Self.port(snapshot, "shop/web:http")
        #expect(Self.frontends(web) == ["clusterIP 172.30.9.9:80", "clusterIP [fd00:30::9]:80"])
        #expect(Self.endpoints(web) == [
            "10.244.1.7:8080", "10.244.2.9:8080", "[fd00:10:244:1::7]:8080", "[fd00:10:244:2::9]:8080",
        ])
        #expect(Self.frontends(try Self.port(snapshot, "shop/empty:http")).contains("clusterIP [fd00:30::80]:80"))
    }

    /// Large-cluster mode (no per-endpoint comments), stale SEP chains and a foreign DNAT chain beside
    /// kube-proxy's: only kube-proxy's reachable endpoints count.
    @Test(arguments: [IPTablesReader.Backend.nft, .legacy])
    func largeClusterStaleAndForeign(backend: IPTablesReader.Backend) async throws {
        let ns = try TestNamespace()
        try Self.restore(ns, backend, v4: try Self.fixture("large-cluster-v4.txt"))
        let snapshot = try await IPTablesReader(netns: ns.name).read()
        #expect(snapshot.warnings == [])
        #expect(snapshot.servicePorts.map { $0.name?.description } == ["shop/big:http", "shop/web:http"])
        let big = try Self.port(snapshot, "shop/big:http")
        #expect(Self.frontends(big) == ["clusterIP 172.30.0.90:80", "nodePort *:30090"])
        #expect(Self.endpoints(big) == ["10.244.5.1:80", "10.244.5.2:80", "10.244.5.3:80"])
        #expect(Self.endpoints(try Self.port(snapshot, "shop/web:http")) == ["10.244.1.7:8080"])
    }

    /// Rules the walker does not understand are warned about and add no endpoint.
    @Test func unknownRulesWarn() async throws {
        let ns = try TestNamespace()
        try Self.restore(ns, .nft, v4: try Self.fixture("unknown-rules-v4.txt"))
        let snapshot = try await IPTablesReader(netns: ns.name).read()
        #expect(Self.endpoints(try Self.port(snapshot, "shop/web:http")) == ["10.244.1.7:8080", "10.244.2.9:8080"])
        #expect(snapshot.warnings.count == 3)
        #expect(snapshot.warnings.contains { $0.contains("-m cpu --cpu 3") })
    }

    /// When both backends hold kube-proxy chains, kubelet's hint chain in nft mangle decides for nft,
    /// and a hint in legacy mangle (with none in nft) decides for legacy.
    @Test func bothBackendsChooseByHint() async throws {
        let ns = try TestNamespace()
        try Self.restore(ns, .nft, v4: try Self.fixture("cluster-v4.txt"))
        try Self.restore(ns, .legacy, v4: try Self.fixture("large-cluster-v4.txt"))
        let hint = "*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n"

        try ns.exec("iptables-legacy-restore", ["--noflush"], input: hint)
        #expect(await IPTablesReader.detect(netns: ns.name) == .legacy)
        let legacy = try await IPTablesReader(netns: ns.name).read()
        #expect(legacy.servicePorts.count == 2)

        try ns.exec("iptables-nft-restore", ["--noflush"], input: hint)
        #expect(await IPTablesReader.detect(netns: ns.name) == .nft)
        let nft = try await IPTablesReader(netns: ns.name).read()
        #expect(nft.servicePorts.count == 9)
    }

    /// A namespace without kube-proxy rules gives an empty snapshot with a warning, not an error.
    @Test func noKubeProxyRules() async throws {
        let ns = try TestNamespace()
        try ns.exec("iptables-nft-restore", [], input: "*nat\n:FOREIGN - [0:0]\n-A PREROUTING -j FOREIGN\nCOMMIT\n")
        #expect(await IPTablesReader.detect(netns: ns.name) == nil)
        let snapshot = try await IPTablesReader(netns: ns.name).read()
        #expect(snapshot.servicePorts.isEmpty)
        #expect(snapshot.warnings == [IPTablesWalker.noChainsWarning])
        // Reading the legacy backend must not create legacy tables (no `-t` is passed to legacy tools).
        let legacyTables = try ns.exec("iptables-legacy-save", [])
        #expect(!legacyTables.contains("*"))
    }

    /// A namespace that does not exist is an error naming it.
    @Test func missingNamespace() async throws {
        await #expect(throws: DataplaneError.namespaceNotFound("settle-t-does-not-exist")) {
            try await IPTablesReader(netns: "settle-t-does-not-exist").read()
        }
        #expect(await IPTablesReader.detect(netns: "settle-t-does-not-exist") == nil)
    }
}
