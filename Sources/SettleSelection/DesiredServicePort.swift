public import SettleModel

/// What kube-proxy on one node should program for one service port (all IP families together).
///
/// The rich form of the `desired` answer: per endpoint, why it is (or is not) selected and which
/// slice generation said so. ``routed`` reduces it to the shape `settle dataplane` prints.
public struct DesiredServicePort: Hashable, Sendable, Codable, Comparable {
    public var name: ServicePortName
    public var `protocol`: L4Protocol
    /// Sorted, all families.
    public var frontends: [Frontend]
    /// Endpoints kube-proxy should route new connections to, sorted by address.
    public var endpoints: [DesiredEndpoint]
    /// Endpoints listed in the Service's slices that are *not* selected on this node (not ready,
    /// other zone, not local under a Local policy …), sorted. Path ``DesiredEndpoint/Path/none``.
    public var excluded: [DesiredEndpoint]
    /// Per-family detail of the categorisation, sorted by family.
    public var families: [FamilySelection]

    public init(
        name: ServicePortName, protocol: L4Protocol, frontends: [Frontend], endpoints: [DesiredEndpoint],
        excluded: [DesiredEndpoint] = [], families: [FamilySelection] = []
    ) {
        self.name = name
        self.protocol = `protocol`
        self.frontends = frontends
        self.endpoints = endpoints
        self.excluded = excluded
        self.families = families
    }

    /// The identity this port shares with ``SettleModel/RoutedServicePort/identity``.
    public var key: ServicePortKey { ServicePortKey(name: name, protocol: `protocol`) }

    /// The `settle dataplane` shape: frontends, and the union of endpoints over all paths as `ip:port`.
    public var routed: RoutedServicePort {
        RoutedServicePort(
            name: name, protocol: `protocol`, frontends: frontends,
            endpoints: Array(Set(endpoints.map(\.address))).sorted())
    }

    /// Whether kube-proxy rejects new connections at every frontend (no usable endpoint anywhere,
    /// in every family).
    public var rejects: Bool { families.allSatisfy { !$0.hasAnyEndpoints } }

    public static func < (lhs: DesiredServicePort, rhs: DesiredServicePort) -> Bool { lhs.key < rhs.key }

    /// The categorisation summary for one IP family.
    public struct FamilySelection: Hashable, Sendable, Codable, Comparable {
        public var family: IPAddress.Family
        public var topologyMode: TopologyMode
        public var usesClusterEndpoints: Bool
        public var usesLocalEndpoints: Bool
        /// `false`: kube-proxy rejects new connections for this family.
        public var hasAnyEndpoints: Bool
        public var clusterFallback: Bool
        public var localFallback: Bool

        public init(
            family: IPAddress.Family, topologyMode: TopologyMode, usesClusterEndpoints: Bool, usesLocalEndpoints: Bool,
            hasAnyEndpoints: Bool, clusterFallback: Bool, localFallback: Bool
        ) {
            self.family = family
            self.topologyMode = topologyMode
            self.usesClusterEndpoints = usesClusterEndpoints
            self.usesLocalEndpoints = usesLocalEndpoints
            self.hasAnyEndpoints = hasAnyEndpoints
            self.clusterFallback = clusterFallback
            self.localFallback = localFallback
        }

        public static func < (lhs: FamilySelection, rhs: FamilySelection) -> Bool {
            lhs.family == .ipv4 && rhs.family == .ipv6
        }
    }
}
