public import SettleModel

/// A discovery.k8s.io/v1 EndpointSlice, reduced to the fields kube-proxy reads.
///
/// Mirrors the inputs of kube-proxy's `EndpointSliceCache` (KK `pkg/proxy/endpointslicecache.go`).
/// Pointer fields of the Go type (`conditions.ready`, `ports[].name`, `ports[].port`) stay
/// optional here because kube-proxy gives `nil` a meaning of its own.
public struct V1EndpointSlice: KubeObject {
    public static let apiVersion = "discovery.k8s.io/v1"
    public static let kind = "EndpointSlice"
    public static let resource = "endpointslices"
    public static let namespaced = true

    /// Label naming the Service a slice belongs to: the join key.
    public static let serviceNameLabel = "kubernetes.io/service-name"
    /// Annotation with the time of the change that triggered the last update (RFC 3339).
    public static let lastChangeTriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

    public var metadata: ObjectMeta
    public var addressType: AddressType
    public var endpoints: [Endpoint]?
    public var ports: [EndpointPort]?

    public init(
        metadata: ObjectMeta, addressType: AddressType, endpoints: [Endpoint]? = nil, ports: [EndpointPort]? = nil
    ) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, addressType, endpoints, ports }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        addressType = try c.decode(AddressType.self, forKey: .addressType)
        endpoints = try c.decodeIfPresent([Endpoint].self, forKey: .endpoints)
        ports = try c.decodeIfPresent([EndpointPort].self, forKey: .ports)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.apiVersion, forKey: .apiVersion)
        try c.encode(Self.kind, forKey: .kind)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(addressType, forKey: .addressType)
        try c.encodeIfPresent(endpoints, forKey: .endpoints)
        try c.encodeIfPresent(ports, forKey: .ports)
    }

    /// The `kubernetes.io/service-name` label, if any.
    public var serviceName: String? { metadata.labels?[Self.serviceNameLabel] }

    /// The `endpoints.kubernetes.io/last-change-trigger-time` annotation, unparsed.
    public var lastChangeTriggerTime: String? { metadata.annotations?[Self.lastChangeTriggerTimeAnnotation] }

    /// `addressType`: `IPv4`, `IPv6` or `FQDN`. Open set.
    public struct AddressType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws {
            rawValue = try decoder.singleValueContainer().decode(String.self)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }
        public var description: String { rawValue }

        public static let ipv4 = AddressType(rawValue: "IPv4")
        public static let ipv6 = AddressType(rawValue: "IPv6")
        public static let fqdn = AddressType(rawValue: "FQDN")
    }

    /// `endpoints[]`.
    public struct Endpoint: Hashable, Sendable, Codable {
        /// Fungible; kube-proxy uses only the first.
        public var addresses: [String]
        public var conditions: Conditions?
        public var hostname: String?
        public var targetRef: ObjectReference?
        public var nodeName: String?
        public var zone: String?
        public var hints: Hints?

        public init(
            addresses: [String], conditions: Conditions? = nil, hostname: String? = nil,
            targetRef: ObjectReference? = nil, nodeName: String? = nil, zone: String? = nil, hints: Hints? = nil
        ) {
            self.addresses = addresses
            self.conditions = conditions
            self.hostname = hostname
            self.targetRef = targetRef
            self.nodeName = nodeName
            self.zone = zone
            self.hints = hints
        }

        enum CodingKeys: String, CodingKey { case addresses, conditions, hostname, targetRef, nodeName, zone, hints }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            addresses = try c.decodeIfPresent([String].self, forKey: .addresses) ?? []
            conditions = try c.decodeIfPresent(Conditions.self, forKey: .conditions)
            hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
            targetRef = try c.decodeIfPresent(ObjectReference.self, forKey: .targetRef)
            nodeName = try c.decodeIfPresent(String.self, forKey: .nodeName)
            zone = try c.decodeIfPresent(String.self, forKey: .zone)
            hints = try c.decodeIfPresent(Hints.self, forKey: .hints)
        }
    }

    /// `endpoints[].conditions`. Each is a `*bool`: kube-proxy reads nil ready as ready, nil serving
    /// as serving, nil terminating as not terminating.
    public struct Conditions: Hashable, Sendable, Codable {
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?

        public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
            self.ready = ready
            self.serving = serving
            self.terminating = terminating
        }
    }

    /// `endpoints[].hints`.
    public struct Hints: Hashable, Sendable, Codable {
        public var forZones: [ForZone]?
        public var forNodes: [ForNode]?

        public init(forZones: [ForZone]? = nil, forNodes: [ForNode]? = nil) {
            self.forZones = forZones
            self.forNodes = forNodes
        }
    }

    /// `endpoints[].hints.forZones[]`.
    public struct ForZone: Hashable, Sendable, Codable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    /// `endpoints[].hints.forNodes[]`.
    public struct ForNode: Hashable, Sendable, Codable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    /// `ports[]`. `name == nil` is not the same as `name == ""`: kube-proxy ignores the former.
    public struct EndpointPort: Hashable, Sendable, Codable {
        public var name: String?
        public var `protocol`: L4Protocol?
        /// `nil` means "all ports"; kube-proxy ignores such ports, and ports equal to 0.
        public var port: Int?
        public var appProtocol: String?

        public init(name: String? = nil, protocol: L4Protocol? = nil, port: Int? = nil, appProtocol: String? = nil) {
            self.name = name
            self.protocol = `protocol`
            self.port = port
            self.appProtocol = appProtocol
        }
    }
}

/// A reference to another object (`targetRef` of an endpoint: usually a Pod).
public struct ObjectReference: Hashable, Sendable, Codable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?

    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }
}
