/// A core/v1 Pod, reduced to what Settle reads: where it runs and its IPs.
///
/// The aggregator finds agents by their pods (`spec.nodeName`, `status.podIP`; agents use the
/// host network, so that is the node's IP).
public struct V1Pod: KubeObject {
    public static let apiVersion = "v1"
    public static let kind = "Pod"
    public static let resource = "pods"
    public static let namespaced = true

    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public struct Spec: Hashable, Sendable, Codable {
        public var nodeName: String?
        public var hostNetwork: Bool?

        public init(nodeName: String? = nil, hostNetwork: Bool? = nil) {
            self.nodeName = nodeName
            self.hostNetwork = hostNetwork
        }
    }

    public struct Status: Hashable, Sendable, Codable {
        /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
        public var phase: String?
        public var podIP: String?
        public var podIPs: [PodIP]?

        public init(phase: String? = nil, podIP: String? = nil, podIPs: [PodIP]? = nil) {
            self.phase = phase
            self.podIP = podIP
            self.podIPs = podIPs
        }
    }

    public struct PodIP: Hashable, Sendable, Codable {
        public var ip: String

        public init(ip: String) { self.ip = ip }
    }
}
