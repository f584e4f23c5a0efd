public import SettleModel

/// Settings that change kube-proxy's endpoint selection, passed as values (never read from globals).
///
/// Upstream reads these from feature gates and flags (`utilfeature.DefaultFeatureGate` in
/// KK `pkg/proxy/topology.go` and `pkg/proxy/endpointslicecache.go`); here each one is an argument,
/// so one process can compute the selection of kube-proxies of different versions.
public struct SelectionOptions: Hashable, Sendable {
    /// Mirrors the `PreferSameTrafficDistribution` feature gate: when on, `hints.forNodes` are read
    /// and the `PreferSameNode` topology mode can apply. Defaults to on (the gate is beta, enabled
    /// by default, since Kubernetes 1.34). Turn it off to mirror an older kube-proxy.
    public var preferSameTrafficDistribution: Bool
    /// The IP families kube-proxy runs a proxier for (one per family; both on a dual-stack node).
    public var ipFamilies: Set<IPAddress.Family>

    public init(preferSameTrafficDistribution: Bool = true, ipFamilies: Set<IPAddress.Family> = [.ipv4, .ipv6]) {
        self.preferSameTrafficDistribution = preferSameTrafficDistribution
        self.ipFamilies = ipFamilies
    }
}
