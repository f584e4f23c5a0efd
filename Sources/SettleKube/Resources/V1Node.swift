/// A core/v1 Node, reduced to what Settle reads: its zone label, addresses, readiness, taints
/// and whether it is being deleted.
///
/// kube-proxy watches its own Node for `topology.kubernetes.io/zone` (topology hints) and, in
/// `/healthz`, for `deletionTimestamp` and the `ToBeDeletedByClusterAutoscaler` taint.
public struct V1Node: KubeObject {
    public static let apiVersion = "v1"
    public static let kind = "Node"
    public static let resource = "nodes"
    public static let namespaced = false

    /// The well-known zone label kube-proxy's topology code reads.
    public static let zoneLabel = "topology.kubernetes.io/zone"

    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, spec, status }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        spec = try c.decodeIfPresent(Spec.self, forKey: .spec)
        status = try c.decodeIfPresent(Status.self, forKey: .status)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.apiVersion, forKey: .apiVersion)
        try c.encode(Self.kind, forKey: .kind)
        try c.encode(metadata, forKey: .metadata)
        try c.encodeIfPresent(spec, forKey: .spec)
        try c.encodeIfPresent(status, forKey: .status)
    }

    /// The node's zone (`topology.kubernetes.io/zone`), if labelled.
    public var zone: String? { metadata.labels?[Self.zoneLabel] }

    /// Whether the `Ready` condition is `True`; `nil` when the node reports no Ready condition.
    public var isReady: Bool? {
        guard let ready = status?.conditions?.first(where: { $0.type == "Ready" }) else { return nil }
        return ready.status == "True"
    }

    /// `spec`.
    public struct Spec: Hashable, Sendable, Codable {
        public var podCIDR: String?
        public var podCIDRs: [String]?
        public var taints: [Taint]?
        public var unschedulable: Bool?

        public init(podCIDR: String? = nil, podCIDRs: [String]? = nil, taints: [Taint]? = nil, unschedulable: Bool? = nil) {
            self.podCIDR = podCIDR
            self.podCIDRs = podCIDRs
            self.taints = taints
            self.unschedulable = unschedulable
        }
    }

    /// `spec.taints[]`.
    public struct Taint: Hashable, Sendable, Codable {
        public var key: String
        public var value: String?
        /// `NoSchedule`, `PreferNoSchedule`, `NoExecute`.
        public var effect: String?
        public var timeAdded: String?

        public init(key: String, value: String? = nil, effect: String? = nil, timeAdded: String? = nil) {
            self.key = key
            self.value = value
            self.effect = effect
            self.timeAdded = timeAdded
        }
    }

    /// `status`.
    public struct Status: Hashable, Sendable, Codable {
        public var addresses: [NodeAddress]?
        public var conditions: [NodeCondition]?

        public init(addresses: [NodeAddress]? = nil, conditions: [NodeCondition]? = nil) {
            self.addresses = addresses
            self.conditions = conditions
        }
    }

    /// `status.addresses[]`: `type` is `InternalIP`, `ExternalIP`, `Hostname`, ….
    public struct NodeAddress: Hashable, Sendable, Codable {
        public var type: String
        public var address: String

        public init(type: String, address: String) {
            self.type = type
            self.address = address
        }
    }

    /// `status.conditions[]`.
    public struct NodeCondition: Hashable, Sendable, Codable {
        public var type: String
        /// `True`, `False` or `Unknown`.
        public var status: String
        public var reason: String?
        public var message: String?
        public var lastHeartbeatTime: String?
        public var lastTransitionTime: String?

        public init(
            type: String, status: String, reason: String? = nil, message: String? = nil,
            lastHeartbeatTime: String? = nil, lastTransitionTime: String? = nil
        ) {
            self.type = type
            self.status = status
            self.reason = reason
            self.message = message
            self.lastHeartbeatTime = lastHeartbeatTime
            self.lastTransitionTime = lastTransitionTime
        }
    }
}
