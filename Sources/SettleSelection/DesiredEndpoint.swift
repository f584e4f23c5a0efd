public import SettleModel

/// One endpoint of a service port with kube-proxy's verdict for one node: desired or not, by
/// which path, and whether only as the terminating fallback.
///
/// Carries the slice UID and generation it was read from: an acknowledgement is only as fresh as
/// that generation (brief §2, "Freshness").
public struct DesiredEndpoint: Hashable, Sendable, Codable, Comparable {
    /// Through which of kube-proxy's endpoint sets a new connection can reach the endpoint.
    public enum Path: String, Hashable, Sendable, Codable, CaseIterable {
        /// In the cluster set only (ClusterIP with internal policy Cluster; external traffic with
        /// external policy Cluster, or the pod/host short-circuit under external policy Local).
        case cluster
        /// In the local set only (internal policy Local, or external policy Local).
        case local
        /// In both sets.
        case both
        /// Not selected on this node: it is listed in a slice, but kube-proxy should not route new
        /// connections to it here.
        case none
    }

    public var ip: IPAddress
    public var port: Int
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool
    public var local: Bool
    public var nodeName: String?
    public var zone: String?
    /// `namespace/name` of the endpoint's `targetRef` (the Pod).
    public var targetRef: String?
    public var slice: SliceReference
    public var path: Path
    /// Selected only because no ready endpoint exists in its scope (kube-proxy's fallback to
    /// serving-and-terminating endpoints): kube-proxy keeps it on purpose.
    public var fallback: Bool

    public init(
        ip: IPAddress, port: Int, ready: Bool, serving: Bool, terminating: Bool, local: Bool, nodeName: String?,
        zone: String?, targetRef: String?, slice: SliceReference, path: Path, fallback: Bool
    ) {
        self.ip = ip
        self.port = port
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.local = local
        self.nodeName = nodeName
        self.zone = zone
        self.targetRef = targetRef
        self.slice = slice
        self.path = path
        self.fallback = fallback
    }

    /// Builds the verdict for `info` from its membership in the cluster and local sets. An
    /// endpoint selected while not ready can only have come through the serving-terminating fallback.
    public init(_ info: EndpointInfo, inCluster: Bool, inLocal: Bool) {
        let path: Path =
            switch (inCluster, inLocal) {
            case (true, true): .both
            case (true, false): .cluster
            case (false, true): .local
            case (false, false): .none
            }
        self.init(
            ip: info.address.ip, port: info.address.port, ready: info.ready, serving: info.serving,
            terminating: info.terminating, local: info.local, nodeName: info.nodeName, zone: info.zone,
            targetRef: info.targetRef, slice: info.slice, path: path, fallback: path != .none && !info.ready)
    }

    public var address: EndpointAddress { EndpointAddress(ip: ip, port: port) }

    /// Whether kube-proxy should route new connections to it on this node.
    public var isDesired: Bool { path != .none }

    public static func < (lhs: DesiredEndpoint, rhs: DesiredEndpoint) -> Bool {
        if lhs.address != rhs.address { return lhs.address < rhs.address }
        return lhs.slice < rhs.slice
    }
}
