/// The metadata every Kubernetes object carries that Settle reads.
///
/// Only the fields Settle uses; unknown fields are ignored when decoding, so objects from newer
/// API servers load unchanged.
public struct ObjectMeta: Hashable, Sendable, Codable {
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var deletionTimestamp: String?

    public init(
        name: String? = nil, namespace: String? = nil, uid: String? = nil, resourceVersion: String? = nil,
        generation: Int64? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil,
        deletionTimestamp: String? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.generation = generation
        self.labels = labels
        self.annotations = annotations
        self.deletionTimestamp = deletionTimestamp
    }
}

/// A Kubernetes object type Settle lists and watches.
///
/// The list/watch client (`SettleKubeClient`) and the stand-in API server are generic over this
/// protocol, so adding a kind is adding a type.
public protocol KubeObject: Codable, Sendable, Hashable {
    /// e.g. `v1`, `discovery.k8s.io/v1`.
    static var apiVersion: String { get }
    /// e.g. `Service`.
    static var kind: String { get }
    /// Lower-case plural used in URLs, e.g. `services`.
    static var resource: String { get }
    /// Whether objects live in namespaces (Nodes do not).
    static var namespaced: Bool { get }

    var metadata: ObjectMeta { get set }
}

extension KubeObject {
    /// `namespace/name`, or `name` for cluster-scoped objects: the cache key client-go uses.
    public var key: String {
        let name = metadata.name ?? ""
        if let namespace = metadata.namespace, !namespace.isEmpty { return "\(namespace)/\(name)" }
        return name
    }

    /// The URL path of the collection, e.g. `/apis/discovery.k8s.io/v1/endpointslices` (all namespaces).
    public static var collectionPath: String {
        apiVersion.contains("/") ? "/apis/\(apiVersion)/\(resource)" : "/api/\(apiVersion)/\(resource)"
    }
}
