/// The result of kube-proxy's endpoint categorisation for one service port on one node.
///
/// Mirrors the return values of `CategorizeEndpoints` (KK `pkg/proxy/topology.go`), and says which
/// fallbacks were taken so callers can explain the result.
public struct CategorizedEndpoints: Hashable, Sendable {
    /// Usable Cluster-policy endpoints (after topology), or the serving-terminating fallback.
    /// `nil` when the service port never uses cluster endpoints.
    public var cluster: [EndpointInfo]?
    /// Usable Local-policy endpoints (local ready, else local serving-terminating).
    /// `nil` when the service port never uses local endpoints, or when it does but none is usable.
    public var local: [EndpointInfo]?
    /// Every endpoint reachable from this node: the union of ``cluster`` and ``local``, sorted.
    public var allReachable: [EndpointInfo]
    /// Whether the service has a usable endpoint anywhere in the cluster; when false, kube-proxy
    /// rejects new connections at every frontend.
    public var hasAnyEndpoints: Bool
    /// The topology filter applied to cluster endpoints.
    public var topologyMode: TopologyMode
    /// Cluster endpoints are the serving-terminating fallback (no ready endpoint anywhere).
    public var clusterFallback: Bool
    /// Local endpoints are the serving-terminating fallback (no local ready endpoint).
    public var localFallback: Bool

    public init(
        cluster: [EndpointInfo]? = nil, local: [EndpointInfo]? = nil, allReachable: [EndpointInfo] = [],
        hasAnyEndpoints: Bool = false, topologyMode: TopologyMode = .none, clusterFallback: Bool = false,
        localFallback: Bool = false
    ) {
        self.cluster = cluster
        self.local = local
        self.allReachable = allReachable
        self.hasAnyEndpoints = hasAnyEndpoints
        self.topologyMode = topologyMode
        self.clusterFallback = clusterFallback
        self.localFallback = localFallback
    }
}
