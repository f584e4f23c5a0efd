/// Which topology filter kube-proxy applied to a service port's cluster endpoints.
///
/// Mirrors the strings returned by `topologyModeFromHints` (KK `pkg/proxy/topology.go`):
/// `""` (here ``none``), `PreferSameZone`, `PreferSameNode`.
public enum TopologyMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// No hints in use: every ready endpoint is a cluster endpoint.
    case none
    /// Only ready endpoints hinted for this node's zone.
    case preferSameZone = "PreferSameZone"
    /// Only ready endpoints hinted for this node (needs ``SelectionOptions/preferSameTrafficDistribution``).
    case preferSameNode = "PreferSameNode"
}
