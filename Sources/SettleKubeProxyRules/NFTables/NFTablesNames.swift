import SettleModel

/// kube-proxy's nftables object names, hashed exactly as kube-proxy hashes them.
///
/// Mirrors `servicePortChainNameBase`, `servicePortEndpointChainNameBase` and `hashAndTruncate` in
/// KK `pkg/proxy/nftables/proxier.go`: the base of a service-port chain is
/// `HASH-namespace/name/protocol/portName` (HASH = first 8 characters of base32(SHA-256) of the
/// part after the dash), of an endpoint chain `HASH-namespace/name/protocol/portName__IP/port` with
/// the `:` of IPv6 addresses replaced by `.`; bases longer than 240 characters are cut to 237
/// plus `...`. Readers use these to recognise and validate chains; tests use them to build
/// expectations.
public enum NFTablesNames {
    /// The table kube-proxy owns in each family (`table ip kube-proxy`, `table ip6 kube-proxy`).
    public static let table = "kube-proxy"
    /// `knftables.NameLengthMax` (256) minus the longest prefix allowance (16).
    public static let chainNameBaseLengthMax = 240

    /// `HASH-ns/name/proto/port`, the part after the `service-`/`local-`/… prefix.
    public static func serviceChainBase(_ name: ServicePortName, protocol: L4Protocol) -> String {
        hashAndTruncate("\(name.namespace)/\(name.name)/\(`protocol`.lowercased)/\(name.port)")
    }

    /// `HASH-ns/name/proto/port__IP/port`, the part after the `endpoint-`/`affinity-` prefix.
    public static func endpointChainBase(
        _ name: ServicePortName, protocol: L4Protocol, endpoint: EndpointAddress
    ) -> String {
        var ip = endpoint.ip.description
        if case .v6 = endpoint.ip { ip = ip.replacingColons() }
        return hashAndTruncate(
            "\(name.namespace)/\(name.name)/\(`protocol`.lowercased)/\(name.port)__\(ip)/\(endpoint.port)")
    }

    /// `service-…`: the Cluster-policy endpoint chain (`clusterPolicyChainName`).
    public static func serviceChain(_ name: ServicePortName, protocol: L4Protocol) -> String {
        "service-" + serviceChainBase(name, protocol: `protocol`)
    }

    /// `local-…`: the Local-policy endpoint chain (`localPolicyChainName`).
    public static func localChain(_ name: ServicePortName, protocol: L4Protocol) -> String {
        "local-" + serviceChainBase(name, protocol: `protocol`)
    }

    /// `external-…`: entry for NodePort, external-IP and load-balancer traffic.
    public static func externalChain(_ name: ServicePortName, protocol: L4Protocol) -> String {
        "external-" + serviceChainBase(name, protocol: `protocol`)
    }

    /// `firewall-…`: the LoadBalancerSourceRanges check, reached through `@firewall-ips`.
    public static func firewallChain(_ name: ServicePortName, protocol: L4Protocol) -> String {
        "firewall-" + serviceChainBase(name, protocol: `protocol`)
    }

    /// `endpoint-…`: one endpoint's DNAT chain (all of Gen A; only affinity services from 1.36).
    public static func endpointChain(
        _ name: ServicePortName, protocol: L4Protocol, endpoint: EndpointAddress
    ) -> String {
        "endpoint-" + endpointChainBase(name, protocol: `protocol`, endpoint: endpoint)
    }

    /// `affinity-…`: one endpoint's ClientIP-affinity set (`affinitySetName`).
    public static func affinitySet(
        _ name: ServicePortName, protocol: L4Protocol, endpoint: EndpointAddress
    ) -> String {
        "affinity-" + endpointChainBase(name, protocol: `protocol`, endpoint: endpoint)
    }

    /// kube-proxy's `hashAndTruncate`: `HASH-name`, cut to 240 characters with a `...` tail.
    public static func hashAndTruncate(_ name: String) -> String {
        let full = ChainNameHash.base32SHA256(name, length: 8) + "-" + name
        guard full.utf8.count > chainNameBaseLengthMax else { return full }
        let head = full.utf8.prefix(chainNameBaseLengthMax - 3)
        return String(decoding: head, as: UTF8.self) + "..."
    }
}

extension String {
    fileprivate func replacingColons() -> String {
        String(decoding: utf8.map { $0 == UInt8(ascii: ":") ? UInt8(ascii: ".") : $0 }, as: UTF8.self)
    }
}
