public import SettleKube

/// One resource type the stand-in serves: where it lives in the URL space and how discovery describes it.
///
/// The server stores objects as JSON, so adding a kind is adding one of these; nothing else changes.
public struct APIResource: Hashable, Sendable {
    /// API group; empty for the core group (`/api/v1`).
    public var group: String
    /// API version within the group, e.g. `v1`.
    public var version: String
    /// Lower-case plural used in URLs, e.g. `endpointslices`.
    public var resource: String
    /// Singular name shown by discovery, e.g. `endpointslice`.
    public var singularName: String
    /// The object kind, e.g. `EndpointSlice`.
    public var kind: String
    /// Whether objects live in namespaces (Nodes and Namespaces do not).
    public var namespaced: Bool
    /// kubectl short names, e.g. `svc`.
    public var shortNames: [String]
    /// Whether `metadata.generation` is kept and bumped on non-metadata changes (EndpointSlices do this).
    public var tracksGeneration: Bool

    /// Describes a resource; `singularName` defaults to the lower-cased kind.
    public init(
        group: String, version: String, resource: String, singularName: String? = nil, kind: String,
        namespaced: Bool, shortNames: [String] = [], tracksGeneration: Bool = false
    ) {
        self.group = group
        self.version = version
        self.resource = resource
        self.singularName = singularName ?? kind.lowercased()
        self.kind = kind
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.tracksGeneration = tracksGeneration
    }

    /// Describes a typed ``KubeObject`` kind, so tests can serve their own types.
    public init<T: KubeObject>(_ type: T.Type, shortNames: [String] = [], tracksGeneration: Bool = false) {
        let parts = T.apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        self.init(
            group: parts.count == 2 ? parts[0] : "", version: parts.last ?? T.apiVersion, resource: T.resource,
            kind: T.kind, namespaced: T.namespaced, shortNames: shortNames, tracksGeneration: tracksGeneration
        )
    }

    /// `v1` or `group/version`, as written in `apiVersion` fields.
    public var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `/api/v1` or `/apis/group/version`.
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    /// The key the server files objects of this resource under.
    var id: String { "\(groupVersion)/\(resource)" }

    /// core/v1 Services.
    public static let services = APIResource(
        group: "", version: "v1", resource: "services", kind: "Service", namespaced: true, shortNames: ["svc"])
    /// discovery.k8s.io/v1 EndpointSlices, with generation tracking as the real strategy does.
    public static let endpointSlices = APIResource(
        group: "discovery.k8s.io", version: "v1", resource: "endpointslices", kind: "EndpointSlice",
        namespaced: true, tracksGeneration: true)
    /// core/v1 Nodes (cluster-scoped).
    public static let nodes = APIResource(
        group: "", version: "v1", resource: "nodes", kind: "Node", namespaced: false, shortNames: ["no"])
    /// core/v1 Pods.
    public static let pods = APIResource(
        group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true, shortNames: ["po"])
    /// core/v1 Namespaces (cluster-scoped).
    public static let namespaces = APIResource(
        group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false, shortNames: ["ns"])

    /// What Settle reads (Services, EndpointSlices, Nodes, Pods) plus Namespaces, which kubectl expects.
    public static let defaults: [APIResource] = [.services, .endpointSlices, .nodes, .pods, .namespaces]
}
