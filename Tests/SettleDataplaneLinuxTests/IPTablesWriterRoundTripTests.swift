import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleKubeProxyRules
import SettleModel
import Testing

/// Services written in kube-proxy's exact iptables rules by ``IPTablesRuleWriter`` (IPv4 and IPv6),
/// loaded with `iptables-restore`/`ip6tables-restore` into a real kernel through either backend and read
/// back with ``IPTablesReader``: the reader must route exactly what the writer was given.
@Suite(.serialized, requiresRoot)
struct IPTablesWriterRoundTripTests {
    /// The nftables round trip's mix, widened for iptables: IPv6 external and load-balancer IPs on
    /// dual-stack ports, load balancers without source ranges and without endpoints, health-check node
    /// ports, and Local traffic policies with local endpoints drawn from the cluster endpoints (sometimes none).
    static func services(count: Int, seed: UInt64) -> [ProxyServicePort] {
        var rng = SplitMix64(seed: seed ^ 0x1F7A_B1E5)
        return NFTablesWriterRoundTripTests.services(count: count, seed: seed).enumerated().map { i, original in
            var port = original
            let dualStack = port.clusterIPs.contains { $0.family == .ipv6 }
            if dualStack, rng.next() % 3 == 0 {
                port.externalIPs.append(IPAddress("2001:db8:e::\(String(i + 1, radix: 16))")!)
            }
            if port.loadBalancerIPs.isEmpty, rng.next() % 5 == 0 {
                // Without source ranges, and possibly without endpoints.
                port.loadBalancerIPs = [IPAddress("198.51.100.\(i % 250 + 1)")!]
                if dualStack { port.loadBalancerIPs.append(IPAddress("2001:db8:1b::\(String(i + 1, radix: 16))")!) }
            }
            let everyOther = port.clusterEndpoints.filter(isLocal)
            switch rng.next() % 6 {
            case 0:
                port.internalTrafficPolicyLocal = true
                port.localEndpoints = rng.next() % 3 == 0 ? [] : everyOther
            case 1 where port.externallyAccessible:
                port.externalTrafficPolicyLocal = true
                port.localEndpoints = rng.next() % 2 == 0 ? [] : everyOther
                if !port.loadBalancerIPs.isEmpty { port.healthCheckNodePort = 32000 + i }
            default: break
            }
            return port
        }
    }

    /// The nftables generator numbers a port's endpoints from `.2` (and `::2`) up in both families; the
    /// even ones are on this node, so dual-stack ports have local endpoints in both families.
    static func isLocal(_ endpoint: EndpointAddress) -> Bool {
        let last = endpoint.ip.description.split { $0 == "." || $0 == ":" }.last.flatMap { Int($0, radix: 16) }
        return (last ?? 1) % 2 == 0
    }

    /// What kube-proxy's iptables rules for `port` route, derived from the writer's input one family at
    /// a time (`syncProxyRules`): ClusterIP traffic goes to the Cluster endpoints, or to the local ones
    /// under ITP Local (none when there are none: a DROP); external traffic goes through `KUBE-EXT-` to
    /// the Cluster endpoints, and under ETP Local to the local ones plus the Cluster ones through the pod
    /// and LOCAL-source short-circuits.
    ///
    /// A port without endpoints has only filter-table REJECT rules, whose comment (`"… has no endpoints"`)
    /// is the same for external and load-balancer IPs; the reader reports such an address as a load
    /// balancer, so the expectation does too.
    static func expected(_ port: ProxyServicePort) -> RoutedServicePort {
        var frontends: Set<Frontend> = []
        var endpoints: Set<EndpointAddress> = []
        for family in [IPAddress.Family.ipv4, .ipv6] {
            guard let clusterIP = port.clusterIPs.first(where: { $0.family == family }) else { continue }
            // kube-proxy's proxier for one family sees only that family's addresses, so "externally
            // accessible" and "external policy Local" are per family too.
            var port = port
            port.externalIPs = port.externalIPs.filter { $0.family == family }
            port.loadBalancerIPs = port.loadBalancerIPs.filter { $0.family == family }
            let cluster = port.clusterEndpoints.filter { $0.ip.family == family }
            let local = port.localEndpoints.filter { $0.ip.family == family }
            let hasEndpoints = !cluster.isEmpty || !local.isEmpty
            frontends.insert(Frontend(kind: .clusterIP, ip: clusterIP, port: port.port))
            for ip in port.externalIPs {
                frontends.insert(Frontend(kind: hasEndpoints ? .externalIP : .loadBalancer, ip: ip, port: port.port))
            }
            for ip in port.loadBalancerIPs {
                frontends.insert(Frontend(kind: .loadBalancer, ip: ip, port: port.port))
            }
            if let nodePort = port.nodePort, nodePort != 0 {
                frontends.insert(Frontend(kind: .nodePort, ip: nil, port: nodePort))
            }
            guard hasEndpoints else { continue }
            endpoints.formUnion(port.internalTrafficPolicyLocal ? local : cluster)
            if port.externallyAccessible {
                endpoints.formUnion(cluster)
                if port.externalPolicyLocal { endpoints.formUnion(local) }
            }
        }
        return RoutedServicePort(name: port.name, protocol: port.protocol, frontends: frontends.sorted(), endpoints: endpoints.sorted())
    }

    /// Writes `ports` for both families and loads them into `ns` through `backend`; returns the texts.
    @discardableResult
    static func load(
        _ ports: [ProxyServicePort], into ns: TestNamespace, backend: IPTablesReader.Backend, largeClusterMode: Bool? = nil
    ) throws -> (v4: String, v6: String) {
        let v4 = IPTablesRuleWriter(family: .ipv4, largeClusterMode: largeClusterMode).restoreInput(for: ports)
        let v6 = IPTablesRuleWriter(family: .ipv6, largeClusterMode: largeClusterMode).restoreInput(for: ports)
        try IPTablesReaderTests.restore(ns, backend, v4: v4, v6: v6)
        return (v4, v6)
    }

    static func byName(_ snapshot: DataplaneSnapshot) -> [String: RoutedServicePort] {
        Dictionary(uniqueKeysWithValues: snapshot.servicePorts.map { ($0.name!.name, $0) })
    }

    /// The generated mix comes back exactly, without warnings, from either backend, with and without
    /// the per-endpoint comments of large-cluster mode; the live read equals the pure walk of the
    /// text that was loaded.
    @Test("the writer's rules round-trip exactly through the kernel", arguments: [IPTablesReader.Backend.nft, .legacy], [false, true])
    func roundTrip(backend: IPTablesReader.Backend, largeClusterMode: Bool) async throws {
        let ports = Self.services(count: 80, seed: 7)
        let ns = try TestNamespace()
        let text = try Self.load(ports, into: ns, backend: backend, largeClusterMode: largeClusterMode)
        #expect(!text.v4.contains(" -> ") == largeClusterMode)

        #expect(await IPTablesReader.detect(netns: ns.name) == backend)
        let snapshot = try await IPTablesReader(netns: ns.name, backend: backend).read()
        #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
        let expected = ports.map(Self.expected).sorted()
        #expect(snapshot.servicePorts.count == expected.count)
        for want in expected {
            let got = snapshot.servicePorts.first { $0.identity == want.identity }
            #expect(got == want, "\(want.identity)")
        }
        let pure = IPTablesWalker.snapshot(ipv4Text: text.v4, ipv6Text: text.v6)
        #expect(pure.warnings.isEmpty, "\(pure.warnings)")
        #expect(pure.servicePorts == snapshot.servicePorts)
    }

    /// The generator covers every shape the expectation distinguishes, so the round trip means something.
    @Test func mixCoversEveryShape() {
        let ports = Self.services(count: 80, seed: 7)
        func some(_ predicate: (ProxyServicePort) -> Bool) -> Bool { ports.contains(where: predicate) }
        let v6 = { (ip: IPAddress) in ip.family == .ipv6 }
        #expect(some { $0.clusterIPs.count == 2 })
        #expect(some { $0.clusterEndpoints.isEmpty && !$0.externalIPs.isEmpty })
        #expect(some { $0.clusterEndpoints.isEmpty && !$0.loadBalancerIPs.isEmpty })
        #expect(some { !$0.clusterEndpoints.isEmpty && !$0.loadBalancerIPs.isEmpty && $0.loadBalancerSourceRanges.isEmpty })
        #expect(some { !$0.loadBalancerSourceRanges.isEmpty })
        #expect(some { $0.externalIPs.contains(where: v6) && !$0.clusterEndpoints.isEmpty })
        #expect(some { $0.loadBalancerIPs.contains(where: v6) && !$0.clusterEndpoints.isEmpty })
        #expect(some { $0.internalTrafficPolicyLocal && !$0.localEndpoints.isEmpty && !$0.externallyAccessible })
        #expect(some { $0.internalTrafficPolicyLocal && $0.localEndpoints.isEmpty && !$0.clusterEndpoints.isEmpty })
        #expect(some { $0.internalTrafficPolicyLocal && $0.externallyAccessible && !$0.localEndpoints.isEmpty })
        #expect(some { $0.externalTrafficPolicyLocal && !$0.localEndpoints.isEmpty && $0.localEndpoints != $0.clusterEndpoints })
        #expect(some { $0.externalTrafficPolicyLocal && $0.localEndpoints.isEmpty && !$0.clusterEndpoints.isEmpty })
        #expect(some { $0.healthCheckNodePort != nil })
        #expect(some { $0.affinityTimeoutSeconds != nil && $0.clusterEndpoints.count > 1 })
        #expect(some { $0.nodePort != nil && $0.clusterEndpoints.isEmpty })
        #expect(Set(ports.map(\.protocol)) == [.tcp, .udp, .sctp])
    }

    /// Local traffic policies, spelled out: ITP Local routes the local endpoints; ETP Local external
    /// traffic routes the local endpoints plus the Cluster ones through the short-circuits; ITP Local
    /// without local endpoints routes none and keeps its ClusterIP frontend (a DROP rule); ETP Local
    /// without local endpoints still routes the short-circuits, and its external addresses keep their kinds.
    @Test(arguments: [IPTablesReader.Backend.nft, .legacy], [false, true])
    func localPolicies(backend: IPTablesReader.Backend, largeClusterMode: Bool) async throws {
        let local = EndpointAddress(ip: IPAddress("10.244.1.7")!, port: 8080)
        let remote = EndpointAddress(ip: IPAddress("10.244.2.9")!, port: 8080)
        let local6 = EndpointAddress(ip: IPAddress("fd00:10::1:7")!, port: 8080)
        let remote6 = EndpointAddress(ip: IPAddress("fd00:10::2:9")!, port: 8080)
        func name(_ n: String) -> ServicePortName { ServicePortName(namespace: "a", name: n, port: "http") }
        let itp = ProxyServicePort(
            name: name("itp"), clusterIPs: [IPAddress("172.30.8.1")!, IPAddress("fd00:30::8:1")!], port: 80,
            internalTrafficPolicyLocal: true, clusterEndpoints: [local, remote, local6, remote6], localEndpoints: [local, local6])
        let etp = ProxyServicePort(
            name: name("etp"), clusterIPs: [IPAddress("172.30.8.2")!, IPAddress("fd00:30::8:2")!], port: 80, nodePort: 31000,
            externalIPs: [IPAddress("192.0.2.2")!], loadBalancerIPs: [IPAddress("198.51.100.2")!, IPAddress("2001:db8::2")!],
            externalTrafficPolicyLocal: true, healthCheckNodePort: 32000,
            clusterEndpoints: [local, remote, local6, remote6], localEndpoints: [local, local6])
        let itpNoLocal = ProxyServicePort(
            name: name("itp-none"), clusterIPs: [IPAddress("172.30.8.3")!], port: 80,
            internalTrafficPolicyLocal: true, clusterEndpoints: [remote], localEndpoints: [])
        let etpNoLocal = ProxyServicePort(
            name: name("etp-none"), clusterIPs: [IPAddress("172.30.8.4")!], port: 80, nodePort: 31001,
            externalIPs: [IPAddress("192.0.2.4")!], loadBalancerIPs: [IPAddress("198.51.100.4")!],
            loadBalancerSourceRanges: ["203.0.113.0/24"], externalTrafficPolicyLocal: true,
            clusterEndpoints: [remote], localEndpoints: [])

        let ns = try TestNamespace()
        try Self.load([itp, etp, itpNoLocal, etpNoLocal], into: ns, backend: backend, largeClusterMode: largeClusterMode)
        let snapshot = try await IPTablesReader(netns: ns.name, backend: backend).read()
        #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
        let ports = Self.byName(snapshot)
        #expect(ports["itp"]?.endpoints == [local, local6].sorted())
        #expect(ports["etp"]?.endpoints == [local, remote, local6, remote6].sorted())
        #expect(ports["etp"]?.frontends == [
            Frontend(kind: .clusterIP, ip: IPAddress("172.30.8.2"), port: 80),
            Frontend(kind: .clusterIP, ip: IPAddress("fd00:30::8:2"), port: 80),
            Frontend(kind: .externalIP, ip: IPAddress("192.0.2.2"), port: 80),
            Frontend(kind: .loadBalancer, ip: IPAddress("198.51.100.2"), port: 80),
            Frontend(kind: .loadBalancer, ip: IPAddress("2001:db8::2"), port: 80),
            Frontend(kind: .nodePort, ip: nil, port: 31000),
        ].sorted())
        #expect(ports["itp-none"]?.endpoints == [], "ITP Local without local endpoints drops ClusterIP traffic")
        #expect(ports["itp-none"]?.frontends == [Frontend(kind: .clusterIP, ip: IPAddress("172.30.8.3"), port: 80)])
        #expect(ports["etp-none"]?.endpoints == [remote], "pod and node-local traffic short-circuits to the Cluster endpoints")
        #expect(ports["etp-none"]?.frontends == [
            Frontend(kind: .clusterIP, ip: IPAddress("172.30.8.4"), port: 80),
            Frontend(kind: .externalIP, ip: IPAddress("192.0.2.4"), port: 80),
            Frontend(kind: .loadBalancer, ip: IPAddress("198.51.100.4"), port: 80),
            Frontend(kind: .nodePort, ip: nil, port: 31001),
        ].sorted())
        for port in [itp, etp, itpNoLocal, etpNoLocal] {
            #expect(ports[port.name.name] == Self.expected(port), "\(port.name)")
        }
    }
}
