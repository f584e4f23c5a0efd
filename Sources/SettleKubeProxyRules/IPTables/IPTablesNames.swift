import SettleModel

/// kube-proxy's iptables chain names, hashed exactly as kube-proxy hashes them.
///
/// Mirrors `portProtoHash`, `servicePortPolicyClusterChain` & co. and
/// `servicePortEndpointChainName` in KK `pkg/proxy/iptables/proxier.go`: the hash is the first 16
/// characters of base32(SHA-256(`servicePortName + protocol`)) with `servicePortName` in its
/// `String()` form (`ns/name:port`, or `ns/name` when unnamed) and the protocol lower-case; an
/// endpoint chain hashes `servicePortName + protocol + "IP:port"` (IPv6 `"[addr]:port"`).
/// SVC, SVL, EXT and FW of one port share the same hash.
public enum IPTablesNames {
    /// The 16-character hash of a service port (`portProtoHash`).
    public static func portProtoHash(_ name: ServicePortName, protocol: L4Protocol) -> String {
        ChainNameHash.base32SHA256(name.description + `protocol`.lowercased, length: 16)
    }

    /// `KUBE-SVC-…`: Cluster-policy endpoints.
    public static func svc(_ name: ServicePortName, protocol: L4Protocol) -> String {
        "KUBE-SVC-" + portProtoHash(name, protocol: `protocol`)
    }

    /// `KUBE-SVL-…`: Local-policy endpoints.
    public static func svl(_ name: ServicePortName, protocol: L4Protocol) -> String {
        "KUBE-SVL-" + portProtoHash(name, protocol: `protocol`)
    }

    /// `KUBE-EXT-…`: entry for NodePort, external-IP and load-balancer traffic.
    public static func ext(_ name: ServicePortName, protocol: L4Protocol) -> String {
        "KUBE-EXT-" + portProtoHash(name, protocol: `protocol`)
    }

    /// `KUBE-FW-…`: LoadBalancerSourceRanges allow-list.
    public static func fw(_ name: ServicePortName, protocol: L4Protocol) -> String {
        "KUBE-FW-" + portProtoHash(name, protocol: `protocol`)
    }

    /// `KUBE-SEP-…`: one endpoint's DNAT chain (`servicePortEndpointChainName`).
    public static func sep(_ name: ServicePortName, protocol: L4Protocol, endpoint: EndpointAddress) -> String {
        "KUBE-SEP-"
            + ChainNameHash.base32SHA256(
                name.description + `protocol`.lowercased + endpoint.description, length: 16)
    }
}
