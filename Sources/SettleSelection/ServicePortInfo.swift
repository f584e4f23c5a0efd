public import SettleModel

/// One port of one Service for one IP family, as kube-proxy's proxier sees it.
///
/// Mirrors `BaseServicePortInfo` (KK `pkg/proxy/serviceport.go`): addresses are already filtered
/// to ``family``, LoadBalancer IPs only in VIP mode. Build it from a Service with
/// ``ServicePortInfo/servicePorts(of:family:)``.
public struct ServicePortInfo: Hashable, Sendable {
    public var name: ServicePortName
    public var `protocol`: L4Protocol
    public var family: IPAddress.Family
    public var clusterIP: IPAddress
    public var port: Int
    /// 0 when the port has no NodePort.
    public var nodePort: Int
    public var externalIPs: [IPAddress]
    public var loadBalancerVIPs: [IPAddress]
    /// `spec.internalTrafficPolicy == Local`.
    public var internalPolicyLocal: Bool
    /// The Service is externally accessible (by type) and `spec.externalTrafficPolicy == Local`.
    public var externalPolicyLocal: Bool

    public init(
        name: ServicePortName, protocol: L4Protocol = .tcp, family: IPAddress.Family? = nil, clusterIP: IPAddress,
        port: Int, nodePort: Int = 0, externalIPs: [IPAddress] = [], loadBalancerVIPs: [IPAddress] = [],
        internalPolicyLocal: Bool = false, externalPolicyLocal: Bool = false
    ) {
        self.name = name
        self.protocol = `protocol`
        self.family = family ?? clusterIP.family
        self.clusterIP = clusterIP
        self.port = port
        self.nodePort = nodePort
        self.externalIPs = externalIPs
        self.loadBalancerVIPs = loadBalancerVIPs
        self.internalPolicyLocal = internalPolicyLocal
        self.externalPolicyLocal = externalPolicyLocal
    }

    /// Upstream `ExternallyAccessible()`: a NodePort, a LoadBalancer VIP or an external IP of this family.
    public var externallyAccessible: Bool { nodePort != 0 || !loadBalancerVIPs.isEmpty || !externalIPs.isEmpty }

    /// Upstream `UsesClusterEndpoints()`: internal policy Cluster, or any external traffic at all
    /// (even with external policy Local, cluster endpoints serve the pod/host short-circuit).
    public var usesClusterEndpoints: Bool { !internalPolicyLocal || externallyAccessible }

    /// Upstream `UsesLocalEndpoints()`.
    public var usesLocalEndpoints: Bool { internalPolicyLocal || (externalPolicyLocal && externallyAccessible) }

    /// Every address a new connection can arrive on: ClusterIP, external IPs, LoadBalancer VIPs
    /// (each with the service port) and the NodePort (any node address). Sorted.
    public var frontends: [Frontend] {
        var result = [Frontend(kind: .clusterIP, ip: clusterIP, port: port)]
        result += externalIPs.map { Frontend(kind: .externalIP, ip: $0, port: port) }
        result += loadBalancerVIPs.map { Frontend(kind: .loadBalancer, ip: $0, port: port) }
        if nodePort != 0 { result.append(Frontend(kind: .nodePort, ip: nil, port: nodePort)) }
        return Array(Set(result)).sorted()
    }
}
