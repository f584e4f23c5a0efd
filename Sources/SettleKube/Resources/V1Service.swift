public import SettleModel

/// A core/v1 Service, reduced to the fields kube-proxy reads.
///
/// Mirrors the inputs of kube-proxy's `newBaseServiceInfo` (KK `pkg/proxy/serviceport.go`) and
/// `ShouldSkipService` (KK `pkg/proxy/util/utils.go`). Unknown fields are ignored when decoding;
/// optional fields stay `nil` when absent, so encoding gives back what was read (minus the
/// fields Settle does not model).
public struct V1Service: KubeObject {
    public static let apiVersion = "v1"
    public static let kind = "Service"
    public static let resource = "services"
    public static let namespaced = true

    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec = Spec(), status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, spec, status }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decodeIfPresent(ObjectMeta.self, forKey: .metadata) ?? ObjectMeta()
        spec = try c.decodeIfPresent(Spec.self, forKey: .spec) ?? Spec()
        status = try c.decodeIfPresent(Status.self, forKey: .status)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.apiVersion, forKey: .apiVersion)
        try c.encode(Self.kind, forKey: .kind)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(spec, forKey: .spec)
        try c.encodeIfPresent(status, forKey: .status)
    }

    /// `spec.type`. Open set: values this build does not know decode unchanged.
    public struct ServiceType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
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

        public static let clusterIP = ServiceType(rawValue: "ClusterIP")
        public static let nodePort = ServiceType(rawValue: "NodePort")
        public static let loadBalancer = ServiceType(rawValue: "LoadBalancer")
        public static let externalName = ServiceType(rawValue: "ExternalName")
    }

    /// `spec.internalTrafficPolicy` / `spec.externalTrafficPolicy`: `Cluster` or `Local`
    /// (the API also accepts the legacy spelling `Global` for `Cluster`).
    public struct TrafficPolicy: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
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

        public static let cluster = TrafficPolicy(rawValue: "Cluster")
        public static let local = TrafficPolicy(rawValue: "Local")
    }

    /// `spec`.
    public struct Spec: Hashable, Sendable, Codable {
        /// `nil` means `ClusterIP` (the API server defaults it).
        public var type: ServiceType?
        /// `None` for a headless Service.
        public var clusterIP: String?
        /// Primary first; one per family for dual-stack Services.
        public var clusterIPs: [String]?
        /// `IPv4` / `IPv6`, in the order of `clusterIPs`.
        public var ipFamilies: [String]?
        public var ipFamilyPolicy: String?
        public var ports: [ServicePort]?
        public var externalIPs: [String]?
        public var externalName: String?
        /// `None` or `ClientIP`.
        public var sessionAffinity: String?
        public var sessionAffinityConfig: SessionAffinityConfig?
        public var internalTrafficPolicy: TrafficPolicy?
        public var externalTrafficPolicy: TrafficPolicy?
        public var loadBalancerSourceRanges: [String]?
        public var publishNotReadyAddresses: Bool?
        public var healthCheckNodePort: Int?
        public var selector: [String: String]?
        /// `PreferClose`, `PreferSameZone`, `PreferSameNode`. kube-proxy does not read it (it follows
        /// the hints the EndpointSlice controller writes); kept for display.
        public var trafficDistribution: String?

        public init(
            type: ServiceType? = nil, clusterIP: String? = nil, clusterIPs: [String]? = nil,
            ipFamilies: [String]? = nil, ipFamilyPolicy: String? = nil, ports: [ServicePort]? = nil,
            externalIPs: [String]? = nil, externalName: String? = nil, sessionAffinity: String? = nil,
            sessionAffinityConfig: SessionAffinityConfig? = nil, internalTrafficPolicy: TrafficPolicy? = nil,
            externalTrafficPolicy: TrafficPolicy? = nil, loadBalancerSourceRanges: [String]? = nil,
            publishNotReadyAddresses: Bool? = nil, healthCheckNodePort: Int? = nil,
            selector: [String: String]? = nil, trafficDistribution: String? = nil
        ) {
            self.type = type
            self.clusterIP = clusterIP
            self.clusterIPs = clusterIPs
            self.ipFamilies = ipFamilies
            self.ipFamilyPolicy = ipFamilyPolicy
            self.ports = ports
            self.externalIPs = externalIPs
            self.externalName = externalName
            self.sessionAffinity = sessionAffinity
            self.sessionAffinityConfig = sessionAffinityConfig
            self.internalTrafficPolicy = internalTrafficPolicy
            self.externalTrafficPolicy = externalTrafficPolicy
            self.loadBalancerSourceRanges = loadBalancerSourceRanges
            self.publishNotReadyAddresses = publishNotReadyAddresses
            self.healthCheckNodePort = healthCheckNodePort
            self.selector = selector
            self.trafficDistribution = trafficDistribution
        }
    }

    /// `spec.ports[]`.
    public struct ServicePort: Hashable, Sendable, Codable {
        /// Required when the Service has several ports; `nil`/empty for a single unnamed port.
        public var name: String?
        /// `nil` means TCP (the API server defaults it); see ``resolvedProtocol``.
        public var `protocol`: L4Protocol?
        public var port: Int
        public var targetPort: IntOrString?
        public var nodePort: Int?
        public var appProtocol: String?

        public init(
            name: String? = nil, protocol: L4Protocol? = nil, port: Int, targetPort: IntOrString? = nil,
            nodePort: Int? = nil, appProtocol: String? = nil
        ) {
            self.name = name
            self.protocol = `protocol`
            self.port = port
            self.targetPort = targetPort
            self.nodePort = nodePort
            self.appProtocol = appProtocol
        }

        /// The protocol with the API default (TCP) applied.
        public var resolvedProtocol: L4Protocol { `protocol` ?? .tcp }
    }

    /// `spec.sessionAffinityConfig`.
    public struct SessionAffinityConfig: Hashable, Sendable, Codable {
        public var clientIP: ClientIPConfig?
        public init(clientIP: ClientIPConfig? = nil) { self.clientIP = clientIP }
    }

    /// `spec.sessionAffinityConfig.clientIP`.
    public struct ClientIPConfig: Hashable, Sendable, Codable {
        public var timeoutSeconds: Int?
        public init(timeoutSeconds: Int? = nil) { self.timeoutSeconds = timeoutSeconds }
    }

    /// `status`.
    public struct Status: Hashable, Sendable, Codable {
        public var loadBalancer: LoadBalancerStatus?
        public init(loadBalancer: LoadBalancerStatus? = nil) { self.loadBalancer = loadBalancer }
    }

    /// `status.loadBalancer`.
    public struct LoadBalancerStatus: Hashable, Sendable, Codable {
        public var ingress: [LoadBalancerIngress]?
        public init(ingress: [LoadBalancerIngress]? = nil) { self.ingress = ingress }
    }

    /// `status.loadBalancer.ingress[]`.
    public struct LoadBalancerIngress: Hashable, Sendable, Codable {
        public var ip: String?
        public var hostname: String?
        /// `VIP` (or `nil`): kube-proxy programs the IP; `Proxy`: it does not.
        public var ipMode: String?

        public init(ip: String? = nil, hostname: String? = nil, ipMode: String? = nil) {
            self.ip = ip
            self.hostname = hostname
            self.ipMode = ipMode
        }
    }
}
