import SettleDataplane
import SettleModel
import Testing

struct IPTablesWalkerTests: IPTablesTestHelpers {
    private func snapshot(v4 file: String) throws -> DataplaneSnapshot {
        IPTablesWalker.snapshot(ipv4Text: try IPTablesFixtures.text(file), ipv6Text: nil)
    }

    /// Every service port of the composed cluster dump, exactly; stale chains add nothing and nothing warns.
    @Test func clusterDumpRoutesExactly() throws {
        let snap = try snapshot(v4: "cluster-v4.txt")
        #expect(snap.mode == .iptables)
        #expect(snap.warnings == [])
        #expect(snap.servicePorts == [
            routed("default/plain", frontends: [clusterIP("172.30.0.70", 8000)], endpoints: ["10.244.0.7:8000"]),
            routed("kube-system/kube-dns:dns", .udp, frontends: [clusterIP("10.96.0.10", 53)], endpoints: ["10.244.0.5:53"]),
            routed(
                "shop/empty:http", frontends: [clusterIP("172.30.0.80", 80), loadBalancer("198.51.100.9", 80), nodePort(30080)],
                endpoints: []),
            routed(
                "shop/front:https",
                frontends: [
                    clusterIP("172.30.0.10", 443), externalIP("192.0.2.10", 443), loadBalancer("198.51.100.7", 443),
                    nodePort(30443),
                ], endpoints: ["10.244.3.3:8443"]),
            routed("shop/itp:http", frontends: [clusterIP("172.30.0.30", 80)], endpoints: ["10.244.1.30:80"]),
            routed(
                "shop/local:http", frontends: [clusterIP("172.30.0.20", 80), nodePort(31080)],
                endpoints: ["10.244.1.20:8080", "10.244.2.20:8080"]),
            routed("shop/sticky:http", frontends: [clusterIP("172.30.0.40", 80)], endpoints: ["10.244.1.40:80", "10.244.2.40:80"]),
            routed("shop/web:http", frontends: [clusterIP("172.30.9.9", 80)], endpoints: ["10.244.1.7:8080", "10.244.2.9:8080"]),
            routed("tel/sig:sig", .sctp, frontends: [clusterIP("172.30.0.60", 3868)], endpoints: ["10.244.0.6:3868"]),
        ])
    }

    /// A ClusterIP service with two statistic-dispatched endpoints; the unreferenced KUBE-SEP for 10.244.9.9 is stale.
    @Test func clusterIPTwoEndpointsIgnoresStaleSEP() throws {
        let web = try #require(port(try snapshot(v4: "cluster-v4.txt"), "shop/web:http"))
        #expect(web.endpoints == [ep("10.244.1.7:8080"), ep("10.244.2.9:8080")])
        #expect(!web.endpoints.contains(ep("10.244.9.9:8080")))
    }

    /// Internal traffic policy Local: the cluster IP jumps to KUBE-SVL; the unreferenced KUBE-SVC with a
    /// second endpoint is not reachable and does not count.
    @Test func internalTrafficPolicyLocalUsesOnlySVL() throws {
        let itp = try #require(port(try snapshot(v4: "cluster-v4.txt"), "shop/itp:http"))
        #expect(itp.endpoints == [ep("10.244.1.30:80")])
    }

    /// External traffic policy Local: node-port traffic goes EXT → SVL (local endpoint), pod and LOCAL
    /// traffic short-circuits to SVC (all endpoints); the routed set is the union.
    @Test func externalTrafficPolicyLocal() throws {
        let local = try #require(port(try snapshot(v4: "cluster-v4.txt"), "shop/local:http"))
        #expect(local.frontends.contains(nodePort(31080)))
        #expect(local.endpoints == [ep("10.244.1.20:8080"), ep("10.244.2.20:8080")])
    }

    /// ETP Local with no local endpoint: the EXT chain only short-circuits pod/LOCAL traffic to KUBE-SVC
    /// and the filter table drops the rest; node-port traffic from pods still reaches the SVC endpoints.
    @Test func externalTrafficPolicyLocalWithoutLocalEndpoints() {
        let snap = IPTablesWalker.snapshot(
            ipv4Text: """
                *nat
                :KUBE-EXT-UQGPBIWO2H6DZMJI - [0:0]
                :KUBE-NODEPORTS - [0:0]
                :KUBE-SEP-4BZLKXK4VWCMYIMM - [0:0]
                :KUBE-SERVICES - [0:0]
                :KUBE-SVC-UQGPBIWO2H6DZMJI - [0:0]
                -A KUBE-EXT-UQGPBIWO2H6DZMJI -s 10.244.0.0/16 -m comment --comment "pod traffic for shop/remote:http external destinations" -j KUBE-SVC-UQGPBIWO2H6DZMJI
                -A KUBE-EXT-UQGPBIWO2H6DZMJI -m comment --comment "masquerade LOCAL traffic for shop/remote:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
                -A KUBE-EXT-UQGPBIWO2H6DZMJI -m comment --comment "route LOCAL traffic for shop/remote:http external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-UQGPBIWO2H6DZMJI
                -A KUBE-NODEPORTS -p tcp -m comment --comment "shop/remote:http" -m tcp --dport 31500 -j KUBE-EXT-UQGPBIWO2H6DZMJI
                -A KUBE-SEP-4BZLKXK4VWCMYIMM -p tcp -m comment --comment "shop/remote:http" -m tcp -j DNAT --to-destination 10.244.2.50:8080
                -A KUBE-SERVICES -d 172.30.1.50/32 -p tcp -m comment --comment "shop/remote:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-UQGPBIWO2H6DZMJI
                -A KUBE-SERVICES -d 198.51.100.50/32 -p tcp -m comment --comment "shop/remote:http loadbalancer IP" -m tcp --dport 80 -j KUBE-EXT-UQGPBIWO2H6DZMJI
                -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
                -A KUBE-SVC-UQGPBIWO2H6DZMJI -m comment --comment "shop/remote:http -> 10.244.2.50:8080" -j KUBE-SEP-4BZLKXK4VWCMYIMM
                COMMIT
                *filter
                :KUBE-EXTERNAL-SERVICES - [0:0]
                -A KUBE-EXTERNAL-SERVICES -d 198.51.100.50/32 -p tcp -m comment --comment "shop/remote:http has no local endpoints" -m tcp --dport 80 -j DROP
                -A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "shop/remote:http has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31500 -j DROP
                COMMIT
                """, ipv6Text: nil)
        #expect(snap.warnings == [])
        #expect(snap.servicePorts == [
            routed(
                "shop/remote:http", frontends: [clusterIP("172.30.1.50", 80), loadBalancer("198.51.100.50", 80), nodePort(31500)],
                endpoints: ["10.244.2.50:8080"])
        ])
    }

    /// NodePort, external IP and a load balancer whose KUBE-FW chain admits source ranges all reach the endpoint.
    @Test func nodePortExternalIPAndFirewalledLoadBalancer() throws {
        let front = try #require(port(try snapshot(v4: "cluster-v4.txt"), "shop/front:https"))
        #expect(front.frontends == [
            clusterIP("172.30.0.10", 443), externalIP("192.0.2.10", 443), loadBalancer("198.51.100.7", 443), nodePort(30443),
        ])
        #expect(front.endpoints == [ep("10.244.3.3:8443")])
    }

    /// ClientIP affinity: the `recent --rcheck` rules and the statistic rules reach the same endpoints.
    @Test func clientIPAffinity() throws {
        let snap = IPTablesWalker.snapshot(
            ipv4Text: """
                *nat
                :KUBE-SEP-DSMJVSAALWBUVIP7 - [0:0]
                :KUBE-SEP-43OTVJSMQCRFSSFH - [0:0]
                :KUBE-SERVICES - [0:0]
                :KUBE-SVC-25FJTMN2OLOPNGWS - [0:0]
                -A KUBE-SEP-43OTVJSMQCRFSSFH -p tcp -m comment --comment "shop/sticky:http" -m recent --set --name KUBE-SEP-43OTVJSMQCRFSSFH --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.2.40:80
                -A KUBE-SEP-DSMJVSAALWBUVIP7 -p tcp -m comment --comment "shop/sticky:http" -m recent --set --name KUBE-SEP-DSMJVSAALWBUVIP7 --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.1.40:80
                -A KUBE-SERVICES -d 172.30.0.40/32 -p tcp -m comment --comment "shop/sticky:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-25FJTMN2OLOPNGWS
                -A KUBE-SVC-25FJTMN2OLOPNGWS -m comment --comment "shop/sticky:http -> 10.244.2.40:80" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-43OTVJSMQCRFSSFH --mask 255.255.255.255 --rsource -j KUBE-SEP-43OTVJSMQCRFSSFH
                -A KUBE-SVC-25FJTMN2OLOPNGWS -m comment --comment "shop/sticky:http -> 10.244.1.40:80" -j KUBE-SEP-DSMJVSAALWBUVIP7
                COMMIT
                """, ipv6Text: nil)
        #expect(snap.warnings == [])
        #expect(port(snap, "shop/sticky:http")?.endpoints == [ep("10.244.1.40:80"), ep("10.244.2.40:80")])
    }

    /// UDP and SCTP service ports keep their protocol; an unnamed port has an empty port name.
    @Test func udpSctpAndUnnamedPorts() throws {
        let snap = try snapshot(v4: "cluster-v4.txt")
        #expect(port(snap, "kube-system/kube-dns:dns", .udp)?.endpoints == [ep("10.244.0.5:53")])
        #expect(port(snap, "kube-system/kube-dns:dns", .tcp) == nil)
        #expect(port(snap, "tel/sig:sig", .sctp)?.endpoints == [ep("10.244.0.6:3868")])
        let plain = try #require(port(snap, "default/plain"))
        #expect(plain.service == "default/plain")
        #expect(plain.port == "")
    }

    /// Services without endpoints appear with their frontends (filter REJECT rules) and no endpoints.
    @Test func noEndpointServices() throws {
        let empty = try #require(port(try snapshot(v4: "cluster-v4.txt"), "shop/empty:http"))
        #expect(empty.endpoints.isEmpty)
        #expect(empty.frontends == [clusterIP("172.30.0.80", 80), loadBalancer("198.51.100.9", 80), nodePort(30080)])
    }

    /// IPv6: `-d addr/128` entries and `[addr]:port` DNAT targets; with IPv4, one merged service port.
    @Test func dualStackMerges() throws {
        let snap = IPTablesWalker.snapshot(
            ipv4Text: try IPTablesFixtures.text("cluster-v4.txt"), ipv6Text: try IPTablesFixtures.text("cluster-v6.txt"))
        #expect(snap.warnings == [])
        #expect(port(snap, "shop/web:http") == routed(
            "shop/web:http", frontends: [clusterIP("172.30.9.9", 80), clusterIP("fd00:30::9", 80)],
            endpoints: ["10.244.1.7:8080", "10.244.2.9:8080", "[fd00:10:244:1::7]:8080", "[fd00:10:244:2::9]:8080"]))
        #expect(port(snap, "shop/empty:http")?.frontends.contains(clusterIP("fd00:30::80", 80)) == true)
        #expect(snap.servicePorts.count == 9)
    }

    /// IPv6 alone: the stale KUBE-SEP for `[fd00:10:244:3::5]:8080` is not routed.
    @Test func ipv6Only() throws {
        let snap = IPTablesWalker.snapshot(ipv4Text: nil, ipv6Text: try IPTablesFixtures.text("cluster-v6.txt"))
        #expect(snap.warnings == [])
        #expect(snap.servicePorts == [
            routed("shop/empty:http", frontends: [clusterIP("fd00:30::80", 80)], endpoints: []),
            routed(
                "shop/web:http", frontends: [clusterIP("fd00:30::9", 80)],
                endpoints: ["[fd00:10:244:1::7]:8080", "[fd00:10:244:2::9]:8080"]),
        ])
    }

    /// Large-cluster mode: no per-endpoint comments, and a KUBE-NODEPORTS rule without its comment takes its
    /// identity from the KUBE-SERVICES entry with the same chain hash. Stale SEPs and a foreign chain beside
    /// kube-proxy's add nothing.
    @Test func largeClusterMode() throws {
        let snap = try snapshot(v4: "large-cluster-v4.txt")
        #expect(snap.warnings == [])
        #expect(snap.servicePorts == [
            routed(
                "shop/big:http", frontends: [clusterIP("172.30.0.90", 80), nodePort(30090)],
                endpoints: ["10.244.5.1:80", "10.244.5.2:80", "10.244.5.3:80"]),
            routed("shop/web:http", frontends: [clusterIP("172.30.9.9", 80)], endpoints: ["10.244.1.7:8080"]),
        ])
    }

    /// Rules the walker does not understand in a reachable chain (an unknown match, a jump to a foreign
    /// chain, a DNAT outside KUBE-SEP) are skipped with a warning naming them, and add no endpoint.
    @Test func unknownRuleShapesWarnAndAddNothing() throws {
        let snap = try snapshot(v4: "unknown-rules-v4.txt")
        #expect(port(snap, "shop/web:http")?.endpoints == [ep("10.244.1.7:8080"), ep("10.244.2.9:8080")])
        #expect(snap.warnings.count == 3)
        #expect(snap.warnings.contains { $0.contains("unknown match module cpu") && $0.contains("-m cpu --cpu 3") })
        #expect(snap.warnings.contains { $0.contains("CNI-HOSTPORT-DNAT is not a kube-proxy service chain") })
        #expect(snap.warnings.contains { $0.contains("DNAT outside a KUBE-SEP chain") && $0.contains("10.9.9.2:80") })
    }

    /// An entry the walker cannot read (no --dport) is skipped with a warning; others still count.
    @Test func unreadableEntryIsWarned() {
        let snap = IPTablesWalker.snapshot(
            ipv4Text: """
                *nat
                :KUBE-SERVICES - [0:0]
                :KUBE-SVC-A - [0:0]
                :KUBE-SEP-A - [0:0]
                -A KUBE-SERVICES -d 10.0.0.1/32 -p tcp -m comment --comment "ns/a:p cluster IP" -j KUBE-SVC-A
                -A KUBE-SERVICES -d 10.0.0.2/24 -p tcp -m comment --comment "ns/b:p cluster IP" -m tcp --dport 80 -j KUBE-SVC-A
                -A KUBE-SVC-A -j KUBE-SEP-A
                -A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.1.0.1:80
                COMMIT
                """, ipv6Text: nil)
        #expect(snap.servicePorts.isEmpty)
        #expect(snap.warnings.count == 2)
        #expect(snap.warnings[0].contains("no single --dport"))
        #expect(snap.warnings[1].contains("no single-address -d match"))
    }

    /// Node ports bound to node addresses (`--nodeport-addresses`): one frontend per address.
    @Test func nodePortAddresses() {
        let snap = IPTablesWalker.snapshot(
            ipv4Text: """
                *nat
                :KUBE-NODEPORTS - [0:0]
                :KUBE-SERVICES - [0:0]
                :KUBE-SVC-A - [0:0]
                :KUBE-SEP-A - [0:0]
                -A KUBE-NODEPORTS -p tcp -m comment --comment "ns/a:p" -m tcp --dport 30001 -j KUBE-SVC-A
                -A KUBE-SERVICES -d 192.168.1.5/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
                -A KUBE-SERVICES -d 192.168.2.5/32 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
                -A KUBE-SVC-A -j KUBE-SEP-A
                -A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.1.0.1:80
                COMMIT
                """, ipv6Text: nil)
        #expect(snap.warnings == [])
        #expect(snap.servicePorts == [
            routed(
                "ns/a:p",
                frontends: [
                    Frontend(kind: .nodePort, ip: ip("192.168.1.5"), port: 30001),
                    Frontend(kind: .nodePort, ip: ip("192.168.2.5"), port: 30001),
                ], endpoints: ["10.1.0.1:80"])
        ])
    }

    /// The `addrtype LOCAL` jump that takes loopback out (`! -d ::1/128`, always written for IPv6, and
    /// `! -d 127.0.0.0/8` under `--iptables-localhost-nodeports=false`) still means every local address.
    @Test(arguments: [("127.0.0.0/8", "10.1.0.1:80"), ("::1/128", "[fd00::1]:80")])
    func nodePortJumpExcludingLoopback(loopback: String, endpoint: String) {
        let dump = """
            *nat
            :KUBE-NODEPORTS - [0:0]
            :KUBE-SERVICES - [0:0]
            :KUBE-EXT-A - [0:0]
            :KUBE-SVC-A - [0:0]
            :KUBE-SEP-A - [0:0]
            -A KUBE-NODEPORTS -p tcp -m comment --comment "ns/a:p" -m tcp --dport 30001 -j KUBE-EXT-A
            -A KUBE-SERVICES ! -d \(loopback) -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
            -A KUBE-EXT-A -j KUBE-SVC-A
            -A KUBE-SVC-A -j KUBE-SEP-A
            -A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination \(endpoint)
            COMMIT
            """
        let v6 = loopback.contains(":")
        let snap = IPTablesWalker.snapshot(ipv4Text: v6 ? nil : dump, ipv6Text: v6 ? dump : nil)
        #expect(snap.warnings == [])
        #expect(snap.servicePorts == [routed("ns/a:p", frontends: [nodePort(30001)], endpoints: [endpoint])])
    }

    /// A jump loop between chains terminates with a warning.
    @Test func jumpLoopTerminates() {
        let snap = IPTablesWalker.snapshot(
            ipv4Text: """
                *nat
                :KUBE-SERVICES - [0:0]
                :KUBE-SVC-A - [0:0]
                :KUBE-EXT-A - [0:0]
                -A KUBE-SERVICES -d 10.0.0.1/32 -p tcp -m comment --comment "ns/a:p external IP" -m tcp --dport 80 -j KUBE-EXT-A
                -A KUBE-EXT-A -j KUBE-SVC-A
                -A KUBE-SVC-A -j KUBE-EXT-A
                COMMIT
                """, ipv6Text: nil)
        #expect(port(snap, "ns/a:p")?.endpoints == [])
        #expect(snap.warnings.contains { $0.contains("jump loop") })
    }

    /// Without KUBE-SERVICES anywhere the snapshot is empty and says so.
    @Test func noKubeProxyChains() {
        let snap = IPTablesWalker.snapshot(ipv4Text: "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n", ipv6Text: "")
        #expect(snap.servicePorts.isEmpty)
        #expect(snap.warnings == [IPTablesWalker.noChainsWarning])
    }
}
