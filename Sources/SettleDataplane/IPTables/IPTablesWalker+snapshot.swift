public import SettleModel

extension IPTablesWalker {
    /// The warning when neither family holds kube-proxy's chains.
    public static let noChainsWarning = "no kube-proxy iptables chains found"

    /// One node's iptables-mode snapshot from its IPv4 and IPv6 dumps (kube-proxy runs one proxier per
    /// family, reference §0): each family is walked alone, then service ports are merged by identity.
    /// When neither dump has `KUBE-SERVICES`, the snapshot is empty with ``noChainsWarning``.
    public static func snapshot(ipv4: IPTablesSave?, ipv6: IPTablesSave?) -> DataplaneSnapshot {
        var ports: [RoutedServicePort] = []
        var warnings: [String] = []
        var found = false
        for (save, family) in [(ipv4, IPAddress.Family.ipv4), (ipv6, .ipv6)] {
            guard let save else { continue }
            let result = IPTablesWalker(save: save, family: family).walk()
            found = found || result.hasKubeProxyChains
            ports += result.servicePorts
            warnings += result.warnings
        }
        if !found { warnings.append(noChainsWarning) }
        return DataplaneSnapshot(mode: .iptables, servicePorts: DataplaneSnapshot.merging(ports), warnings: warnings)
    }

    /// Parses and walks `iptables-save` and `ip6tables-save` text (each may hold several tables).
    public static func snapshot(ipv4Text: String?, ipv6Text: String?) -> DataplaneSnapshot {
        snapshot(ipv4: ipv4Text.map { IPTablesSave(parsing: $0) }, ipv6: ipv6Text.map { IPTablesSave(parsing: $0) })
    }
}
