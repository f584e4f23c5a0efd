import SettleModel

extension NFTablesRuleWriter {
    /// The per-family syntax bits kube-proxy switches on `ipFamily`.
    struct FamilySyntax {
        let family: IPAddress.Family
        /// `ip` or `ip6`, for both the table family and `ip daddr` matches.
        let ipX: String
        let addrType: String
        /// `ip kube-proxy`.
        let table: String
        let noLocalhost: String

        init(_ family: IPAddress.Family) {
            self.family = family
            ipX = family == .ipv4 ? "ip" : "ip6"
            addrType = family == .ipv4 ? "ipv4_addr" : "ipv6_addr"
            table = "\(ipX) \(NFTablesNames.table)"
            noLocalhost = family == .ipv4 ? "ip daddr != 127.0.0.0/8" : "ip6 daddr != ::1"
        }
    }

    /// The whole ruleset of one family (`setupNFTables` plus the per-service part of
    /// `syncProxyRules`).
    func script(family: IPAddress.Family, ports: [ProxyServicePort]) -> NFTablesScript {
        let f = FamilySyntax(family)
        var s = NFTablesScript()
        s.declarations.reserveCapacity(ports.count * 8)
        s.rules.reserveCapacity(ports.count * 8)
        writeBase(f, into: &s)
        var builder = ServiceBuilder(writer: self, f: f)
        for port in ports {
            builder.write(port, into: &s)
        }
        return s
    }

    var genA: Bool { layout == .endpointChains }
    var markHex: String { "0x" + String(masqueradeMark, radix: 16) }

    func podCIDRText(_ family: IPAddress.Family) -> String? {
        let cidrs = podCIDRs.compactMap(CIDR.init).filter { $0.family == family }
        if cidrs.isEmpty { return nil }
        if cidrs.count == 1 { return cidrs[0].description }
        return "{ " + cidrs.map(\.description).joined(separator: " , ") + " }"
    }

    /// `setupNFTables`: the table, base chains, fixed sets, maps and chains, and their rules.
    private func writeBase(_ f: FamilySyntax, into s: inout NFTablesScript) {
        let t = f.table
        let mark = markHex
        s.declarations += [
            "add table \(t) { comment \"rules for kube-proxy\" ; }",
            "add set \(t) cluster-ips { type \(f.addrType) ; comment \"Active ClusterIPs\" ; }",
        ]
        if nodePortAddresses != nil {
            s.declarations.append(
                "add set \(t) nodeport-ips { type \(f.addrType) ; comment \"IPs that accept NodePort traffic\" ; }")
        }
        if !genA {
            s.declarations.append(
                "add set \(t) hairpin-connections { type \(f.addrType) . \(f.addrType) . inet_proto . inet_service ; comment \"service hairpin connections\" ; }"
            )
        }
        s.declarations += [
            "add map \(t) firewall-ips { type \(f.addrType) . inet_proto . inet_service : verdict ; comment \"destinations that are subject to LoadBalancerSourceRanges\" ; }",
            "add map \(t) no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to service nodeports with no endpoints\" ; }",
            "add map \(t) no-endpoint-services { type \(f.addrType) . inet_proto . inet_service : verdict ; comment \"vmap to drop or reject packets to services with no endpoints\" ; }",
            "add map \(t) service-ips { type \(f.addrType) . inet_proto . inet_service : verdict ; comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }",
            "add map \(t) service-nodeports { type inet_proto . inet_service : verdict ; comment \"NodePort traffic\" ; }",
            "add chain \(t) cluster-ips-check",
            "add chain \(t) filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }",
            "add chain \(t) filter-output-pre-dnat { type filter hook output priority -110 ; }",
            "add chain \(t) filter-forward { type filter hook forward priority 0 ; }",
            "add chain \(t) filter-input { type filter hook input priority 0 ; }",
            "add chain \(t) filter-output { type filter hook output priority 0 ; }",
            "add chain \(t) firewall-check",
        ]
        if genA { s.declarations.append("add chain \(t) mark-for-masquerade") }
        s.declarations += [
            "add chain \(t) masquerading",
            "add chain \(t) nat-output { type nat hook output priority -100 ; }",
            "add chain \(t) nat-postrouting { type nat hook postrouting priority 100 ; }",
            "add chain \(t) nat-prerouting { type nat hook prerouting priority -100 ; }",
            "add chain \(t) nodeport-endpoints-check",
            "add chain \(t) reject-chain { comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\" ; }",
            "add chain \(t) services",
            "add chain \(t) service-endpoints-check",
        ]

        s.rules.append(
            "add rule \(t) cluster-ips-check \(f.ipX) daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\""
        )
        let serviceRanges = serviceCIDRs.compactMap(CIDR.init).filter { $0.family == f.family }
        if !serviceRanges.isEmpty {
            let list = serviceRanges.map(\.description).joined(separator: " , ")
            s.rules.append(
                "add rule \(t) cluster-ips-check \(f.ipX) daddr { \(list) } drop comment \"Drop traffic to unallocated ClusterIPs\""
            )
        }
        s.rules += [
            "add rule \(t) filter-prerouting-pre-dnat ct state new jump firewall-check",
            "add rule \(t) filter-forward ct state new jump service-endpoints-check",
            "add rule \(t) filter-forward ct state new jump cluster-ips-check",
            "add rule \(t) filter-input ct state new jump nodeport-endpoints-check",
            "add rule \(t) filter-input ct state new jump service-endpoints-check",
            "add rule \(t) filter-output ct state new jump service-endpoints-check",
            "add rule \(t) filter-output-pre-dnat ct state new jump firewall-check",
            "add rule \(t) filter-output ct state new jump cluster-ips-check",
        ]
        s.mapRules.append("add rule \(t) firewall-check \(f.ipX) daddr . meta l4proto . th dport vmap @firewall-ips")
        if genA {
            s.rules += [
                "add rule \(t) mark-for-masquerade mark set mark or \(mark)",
                "add rule \(t) masquerading mark and \(mark) == 0 return",
                "add rule \(t) masquerading mark set mark xor \(mark)",
                "add rule \(t) masquerading masquerade fully-random",
            ]
        } else {
            s.rules += [
                "add rule \(t) masquerading mark and \(mark) != 0 mark set mark xor \(mark) masquerade fully-random",
                "add rule \(t) masquerading ct status dnat \(f.ipX) saddr . \(f.ipX) daddr . meta l4proto . th dport @hairpin-connections masquerade fully-random",
            ]
        }
        s.rules += [
            "add rule \(t) nat-output jump services",
            "add rule \(t) nat-postrouting jump masquerading",
            "add rule \(t) nat-prerouting jump services",
            "add rule \(t) reject-chain reject",
        ]
        if !genA, let pod = podCIDRText(f.family) {
            s.rules.append(
                "add rule \(t) services \(f.ipX) daddr @cluster-ips \(f.ipX) saddr != \(pod) meta mark set meta mark | \(mark) comment \"masquerade clusterIP traffic from outside cluster\""
            )
        }
        let nodePortMatch =
            nodePortAddresses == nil
            ? "fib daddr type local \(f.noLocalhost)" : "\(f.ipX) daddr @nodeport-ips"
        s.mapRules += [
            "add rule \(t) nodeport-endpoints-check \(nodePortMatch) meta l4proto . th dport vmap @no-endpoint-nodeports",
            "add rule \(t) services \(f.ipX) daddr . meta l4proto . th dport vmap @service-ips",
            "add rule \(t) services \(nodePortMatch) meta l4proto . th dport vmap @service-nodeports",
            "add rule \(t) service-endpoints-check \(f.ipX) daddr . meta l4proto . th dport vmap @no-endpoint-services",
        ]
        for ip in nodePortAddresses ?? [] where ip.family == f.family {
            s.addElement(head: "add element \(t) nodeport-ips", "\(ip)")
        }
    }
}
