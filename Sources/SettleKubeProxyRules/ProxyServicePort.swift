import SettleModel

/// One service port of one IP family, with the endpoints kube-proxy already selected for it: the
/// input of ``NFTablesRuleWriter`` and ``IPTablesRuleWriter``.
///
/// Mirrors the parts of kube-proxy's `servicePortInfo` (KK `pkg/proxy/serviceport.go`) and of the
/// result of `CategorizeEndpoints` (KK `pkg/proxy/topology.go`) that `syncProxyRules` reads. The
/// writers do no endpoint selection of their own: callers pass what kube-proxy would have chosen.
///
/// Addresses of both families may be mixed; each writer keeps only the family it writes (the
/// nftables writer splits them into the `ip` and `ip6` tables).
public struct ProxyServicePort: Sendable, Hashable {
    /// `namespace/name:portName`; `portName` may be empty for an unnamed port.
    public var name: ServicePortName
    public var `protocol`: L4Protocol
    /// At most one per family. A family without a ClusterIP is not programmed at all, exactly as
    /// kube-proxy skips it (`GetClusterIPByFamily`).
    public var clusterIPs: [IPAddress]
    /// The Service port (`spec.ports[].port`).
    public var port: Int
    /// `spec.ports[].nodePort`; `nil` (or 0) when the port has none.
    public var nodePort: Int?
    public var externalIPs: [IPAddress]
    /// VIP-mode load-balancer ingress IPs (`ipMode: Proxy` ingresses must not be passed).
    public var loadBalancerIPs: [IPAddress]
    /// `spec.loadBalancerSourceRanges` as CIDR text; whitespace is trimmed and a `/0` range means
    /// "allow all" (no firewall chain), as in kube-proxy's `newBaseServiceInfo`.
    public var loadBalancerSourceRanges: [String]
    /// `spec.internalTrafficPolicy: Local`.
    public var internalTrafficPolicyLocal: Bool
    /// `spec.externalTrafficPolicy: Local` on an externally accessible service.
    public var externalTrafficPolicyLocal: Bool
    /// `sessionAffinityConfig.clientIP.timeoutSeconds` when `sessionAffinity: ClientIP`, else `nil`.
    public var affinityTimeoutSeconds: Int?
    /// `healthCheckNodePort` (ETP Local load balancers); only the iptables writer uses it.
    public var healthCheckNodePort: Int?
    /// The endpoints kube-proxy selected for `Cluster` policy (`clusterEndpoints`).
    ///
    /// Also decides whether the service "has endpoints" at all (reject versus drop): for an
    /// internal-Local, ClusterIP-only service pass the endpoints on other nodes here even though
    /// kube-proxy does not route to them; the writer then emits `drop`, not `reject`.
    public var clusterEndpoints: [EndpointAddress]
    /// The endpoints on this node kube-proxy selected for `Local` policy (`localEndpoints`). Also
    /// fills the 1.36+ `hairpin-connections` set.
    public var localEndpoints: [EndpointAddress]

    public init(
        name: ServicePortName,
        protocol: L4Protocol = .tcp,
        clusterIPs: [IPAddress],
        port: Int,
        nodePort: Int? = nil,
        externalIPs: [IPAddress] = [],
        loadBalancerIPs: [IPAddress] = [],
        loadBalancerSourceRanges: [String] = [],
        internalTrafficPolicyLocal: Bool = false,
        externalTrafficPolicyLocal: Bool = false,
        affinityTimeoutSeconds: Int? = nil,
        healthCheckNodePort: Int? = nil,
        clusterEndpoints: [EndpointAddress] = [],
        localEndpoints: [EndpointAddress] = []
    ) {
        self.name = name
        self.protocol = `protocol`
        self.clusterIPs = clusterIPs
        self.port = port
        self.nodePort = nodePort
        self.externalIPs = externalIPs
        self.loadBalancerIPs = loadBalancerIPs
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.internalTrafficPolicyLocal = internalTrafficPolicyLocal
        self.externalTrafficPolicyLocal = externalTrafficPolicyLocal
        self.affinityTimeoutSeconds = affinityTimeoutSeconds
        self.healthCheckNodePort = healthCheckNodePort
        self.clusterEndpoints = clusterEndpoints
        self.localEndpoints = localEndpoints
    }

    /// NodePort, external IP or load-balancer IP present (kube-proxy `ExternallyAccessible`).
    public var externallyAccessible: Bool {
        (nodePort ?? 0) != 0 || !externalIPs.isEmpty || !loadBalancerIPs.isEmpty
    }

    /// kube-proxy `UsesClusterEndpoints`: `!internalPolicyLocal || externallyAccessible`.
    public var usesClusterEndpoints: Bool { !internalTrafficPolicyLocal || externallyAccessible }

    /// kube-proxy `UsesLocalEndpoints`: internal Local, or external Local on an accessible service.
    public var usesLocalEndpoints: Bool {
        internalTrafficPolicyLocal || (externalTrafficPolicyLocal && externallyAccessible)
    }

    /// kube-proxy's `ExternalPolicyLocal`: external Local only counts when externally accessible.
    public var externalPolicyLocal: Bool { externalTrafficPolicyLocal && externallyAccessible }

    /// Sorts endpoints as kube-proxy's endpoints map does: by the string `"IP:port"` (IPv6
    /// `"[addr]:port"`), byte-wise, so `10.244.0.10:80` comes before `10.244.0.8:80`; duplicates are
    /// dropped. Mirrors KK `pkg/proxy/endpointslicecache.go` (`byEndpoint`).
    public static func kubeProxyOrder(_ endpoints: [EndpointAddress]) -> [EndpointAddress] {
        var seen = Set<EndpointAddress>()
        var keyed: [(key: String, endpoint: EndpointAddress)] = []
        keyed.reserveCapacity(endpoints.count)
        for endpoint in endpoints where seen.insert(endpoint).inserted {
            keyed.append((endpoint.description, endpoint))
        }
        keyed.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return keyed.map(\.endpoint)
    }
}

/// One address family's view of a service port, as each of kube-proxy's per-family proxiers sees
/// it: that family's ClusterIP, external and LB IPs, and endpoints (kube-proxy order).
struct FamilyServicePort {
    /// The port with external and load-balancer IPs of this family only.
    var port: ProxyServicePort
    var clusterIP: IPAddress
    /// Whether the port has endpoints anywhere (reject) or only elsewhere (drop).
    var hasEndpoints: Bool
    /// Endpoints for Cluster policy, when the port uses them.
    var clusterEndpoints: [EndpointAddress]
    /// Node-local endpoints, when the port uses them.
    var localEndpoints: [EndpointAddress]

    /// Whether ClusterIP traffic has endpoints to go to: with internal policy Local, only local
    /// ones count (kube-proxy drops otherwise).
    var hasInternalEndpoints: Bool { port.internalTrafficPolicyLocal ? !localEndpoints.isEmpty && hasEndpoints : hasEndpoints }
    /// The same for external traffic under external policy Local.
    var hasExternalEndpoints: Bool { port.externalPolicyLocal ? !localEndpoints.isEmpty && hasEndpoints : hasEndpoints }
    /// Whether NodePort/external/LB traffic gets its own entry chain.
    var usesExternalChain: Bool { hasEndpoints && port.externallyAccessible }
}

extension ProxyServicePort {
    /// This port as the `family` proxier sees it; `nil` when it has no ClusterIP of that family
    /// (kube-proxy then programs nothing for it in that family).
    func view(for family: IPAddress.Family) -> FamilyServicePort? {
        guard let clusterIP = clusterIPs.first(where: { $0.family == family }) else { return nil }
        var p = self
        p.externalIPs = p.externalIPs.filter { $0.family == family }
        p.loadBalancerIPs = p.loadBalancerIPs.filter { $0.family == family }
        let allCluster = p.clusterEndpoints.filter { $0.ip.family == family }
        let allLocal = p.localEndpoints.filter { $0.ip.family == family }
        return FamilyServicePort(
            port: p, clusterIP: clusterIP, hasEndpoints: !allCluster.isEmpty || !allLocal.isEmpty,
            clusterEndpoints: p.usesClusterEndpoints ? Self.kubeProxyOrder(allCluster) : [],
            localEndpoints: p.usesLocalEndpoints ? Self.kubeProxyOrder(allLocal) : [])
    }
}
