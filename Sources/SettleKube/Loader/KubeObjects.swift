/// The Kubernetes objects read from files: Services, EndpointSlices and Nodes, in the order read,
/// plus a count of the objects of other kinds that were skipped.
public struct KubeObjects: Hashable, Sendable {
    public var services: [V1Service]
    public var endpointSlices: [V1EndpointSlice]
    public var nodes: [V1Node]
    /// Skipped objects per kind (`Pod`, `ConfigMap`, `EndpointSlice (discovery.k8s.io/v1beta1)` …).
    public var ignored: [String: Int]

    public init(
        services: [V1Service] = [], endpointSlices: [V1EndpointSlice] = [], nodes: [V1Node] = [],
        ignored: [String: Int] = [:]
    ) {
        self.services = services
        self.endpointSlices = endpointSlices
        self.nodes = nodes
        self.ignored = ignored
    }

    /// How many objects were skipped, all kinds together.
    public var ignoredCount: Int { ignored.values.reduce(0, +) }

    /// The Node called `name`, if loaded (the last one, if listed twice).
    public func node(named name: String) -> V1Node? { nodes.last { $0.metadata.name == name } }

    /// Appends `other`'s objects after this one's and adds up the ignored counts.
    public mutating func append(contentsOf other: KubeObjects) {
        services += other.services
        endpointSlices += other.endpointSlices
        nodes += other.nodes
        ignored.merge(other.ignored, uniquingKeysWith: +)
    }
}
