import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleKubeProxyRules
import SettleModel
import Testing

/// Services written in kube-proxy's exact rules by the rule writer, loaded into a real kernel and
/// read back: the reader must route exactly the endpoints the writer was given, in every layout.
@Suite(.serialized, requiresRoot)
struct NFTablesWriterRoundTripTests {
    /// A reproducible mix: dual-stack and single-stack, TCP/UDP/SCTP, named and unnamed ports,
    /// NodePorts, external IPs, ClientIP affinity, LBs with source ranges, and empty services.
    static func services(count: Int, seed: UInt64) -> [ProxyServicePort] {
        var rng = SplitMix64(seed: seed)
        var out: [ProxyServicePort] = []
        for i in 0..<count {
            let proto = [L4Protocol.tcp, .udp, .sctp][Int(rng.next() % 3)]
            let portName = ["", "http", "p\(i)"][Int(rng.next() % 3)]
            let dualStack = rng.next() % 3 == 0
            var clusterIPs = [IPAddress("172.30.\(i / 250).\(i % 250 + 1)")!]
            if dualStack { clusterIPs.append(IPAddress("fd00:10:96::\(String(i + 1, radix: 16))")!) }
            let endpointCount = Int(rng.next() % 5)  // 0 gives a no-endpoint service
            var endpoints: [EndpointAddress] = []
            for e in 0..<endpointCount {
                let targetPort = 8000 + Int(rng.next() % 100)
                endpoints.append(EndpointAddress(ip: IPAddress("10.244.\(i % 200).\(e + 2)")!, port: targetPort))
                if dualStack { endpoints.append(EndpointAddress(ip: IPAddress("fd00:10::\(String(i, radix: 16)):\(e + 2)")!, port: targetPort)) }
            }
            var port = ProxyServicePort(
                name: ServicePortName(namespace: "ns\(i % 7)", name: "svc-\(i)", port: portName), protocol: proto,
                clusterIPs: clusterIPs, port: 80 + i % 3, clusterEndpoints: endpoints)
            if rng.next() % 3 == 0 { port.nodePort = 30000 + i }
            if rng.next() % 5 == 0 { port.externalIPs = [IPAddress("192.0.2.\(i % 250 + 1)")!] }
            if rng.next() % 6 == 0 && endpointCount > 0 {
                port.loadBalancerIPs = [IPAddress("198.51.100.\(i % 250 + 1)")!]
                port.loadBalancerSourceRanges = ["203.0.113.0/24"]
            }
            if rng.next() % 5 == 0 { port.affinityTimeoutSeconds = 10800 }
            out.append(port)
        }
        return out
    }

    /// What kube-proxy's rules for `port` route, by construction (Cluster traffic policies).
    static func expected(_ port: ProxyServicePort) -> RoutedServicePort {
        var frontends = port.clusterIPs.map { Frontend(kind: .clusterIP, ip: $0, port: port.port) }
        frontends += port.externalIPs.map { Frontend(kind: .externalIP, ip: $0, port: port.port) }
        // nftables cannot tell an LB IP from an external IP unless source ranges put it in
        // firewall-ips; the generator only makes LBs with source ranges.
        frontends += port.loadBalancerIPs.map { Frontend(kind: .loadBalancer, ip: $0, port: port.port) }
        if let nodePort = port.nodePort { frontends.append(Frontend(kind: .nodePort, ip: nil, port: nodePort)) }
        let families = Set(port.clusterIPs.map(\.family))
        let endpoints = port.clusterEndpoints.filter { families.contains($0.ip.family) }
        return RoutedServicePort(name: port.name, protocol: port.protocol, frontends: frontends.sorted(), endpoints: endpoints.sorted())
    }

    @Test("every layout round-trips exactly through the kernel and both read paths", arguments: NFTablesRuleWriter.Layout.allCases)
    func roundTrip(layout: NFTablesRuleWriter.Layout) async throws {
        let ports = Self.services(count: 60, seed: 42)
        let ns = try TestNamespace()
        for batch in NFTablesRuleWriter(layout: layout).batches(for: ports) { try ns.nft(batch) }
        let snapshot = try await NFTablesReaderTests.readBoth(ns)
        #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
        let expected = ports.map(Self.expected).sorted()
        #expect(snapshot.servicePorts.count == expected.count)
        for want in expected {
            let got = snapshot.servicePorts.first { $0.identity == want.identity }
            #expect(got == want, "\(want.identity)")
        }
    }

    @Test("Local traffic policies: ClusterIP routes local endpoints, external traffic also short-circuits to cluster endpoints")
    func localPolicies() async throws {
        let local = EndpointAddress(ip: IPAddress("10.244.1.7")!, port: 8080)
        let remote = EndpointAddress(ip: IPAddress("10.244.2.9")!, port: 8080)
        let itp = ProxyServicePort(
            name: ServicePortName(namespace: "a", name: "itp", port: "http"), clusterIPs: [IPAddress("172.30.8.1")!], port: 80,
            internalTrafficPolicyLocal: true, clusterEndpoints: [local, remote], localEndpoints: [local])
        let etp = ProxyServicePort(
            name: ServicePortName(namespace: "a", name: "etp", port: "http"), clusterIPs: [IPAddress("172.30.8.2")!], port: 80,
            nodePort: 31000, externalTrafficPolicyLocal: true, clusterEndpoints: [local, remote], localEndpoints: [local])
        let itpNoLocal = ProxyServicePort(
            name: ServicePortName(namespace: "a", name: "itp-none", port: "http"), clusterIPs: [IPAddress("172.30.8.3")!], port: 80,
            internalTrafficPolicyLocal: true, clusterEndpoints: [remote], localEndpoints: [])
        for layout in NFTablesRuleWriter.Layout.allCases {
            let ns = try TestNamespace()
            for batch in NFTablesRuleWriter(layout: layout).batches(for: [itp, etp, itpNoLocal]) { try ns.nft(batch) }
            let snapshot = try await NFTablesReaderTests.readBoth(ns)
            let byName = Dictionary(uniqueKeysWithValues: snapshot.servicePorts.map { ($0.name!.name, $0) })
            #expect(byName["itp"]?.endpoints == [local], "\(layout)")
            #expect(byName["etp"].map { Set($0.endpoints) } == [local, remote], "\(layout)")
            #expect(byName["itp-none"]?.endpoints == [], "\(layout): ITP Local without local endpoints drops ClusterIP traffic")
            #expect(byName["itp-none"]?.frontends == [Frontend(kind: .clusterIP, ip: IPAddress("172.30.8.3"), port: 80)], "\(layout)")
        }
    }
}
