public import SettleKube

/// The node kube-proxy runs on, as its endpoint selection sees it: its name and its labels.
///
/// Mirrors the `nodeName` and `topologyLabels` arguments of kube-proxy's `CategorizeEndpoints`
/// (KK `pkg/proxy/topology.go`). An empty name makes no endpoint local, as upstream's
/// `EndpointSliceCache.isLocal` does.
public struct NodeTopology: Hashable, Sendable {
    public var name: String
    public var labels: [String: String]

    public init(name: String, labels: [String: String] = [:]) {
        self.name = name
        self.labels = labels
    }

    /// Builds the topology from a Node object; `nil` labels become empty.
    public init(node: V1Node) {
        self.init(name: node.metadata.name ?? "", labels: node.metadata.labels ?? [:])
    }

    /// `topology.kubernetes.io/zone`, or `""` when the node has no zone (upstream's empty string).
    public var zone: String { labels[V1Node.zoneLabel] ?? "" }
}
