public import SettleModel
public import SettleSelection

/// One endpoint of one service port on one node: its state and why.
///
/// An endpoint listed under several service ports (or several protocols) gets one status per
/// service port, because kube-proxy programs each service port on its own; a waiter asking about
/// an IP looks at all of them.
public struct EndpointStatus: Hashable, Sendable, Codable, Comparable {
    public var servicePort: ServicePortName
    public var `protocol`: L4Protocol
    public var ip: IPAddress
    /// The endpoint's port (the Service port's target port), as the DNAT target carries it.
    public var port: Int
    public var state: EndpointState
    /// `true` only for a `programmed` endpoint that is desired solely through kube-proxy's fallback to
    /// serving-and-terminating endpoints: it is routed on purpose, as the last serving endpoint.
    public var fallback: Bool
    /// The slice (UID, generation) the verdict was computed from: an acknowledgement is only as
    /// fresh as this (brief §2). `nil` for a routed endpoint that no slice lists.
    public var slice: SliceReference?
    /// `namespace/name` of the endpoint's Pod, when the slice names it.
    public var targetRef: String?
    public var reason: Reason

    public init(
        servicePort: ServicePortName, protocol: L4Protocol, ip: IPAddress, port: Int, state: EndpointState,
        fallback: Bool = false, slice: SliceReference? = nil, targetRef: String? = nil, reason: Reason
    ) {
        self.servicePort = servicePort
        self.protocol = `protocol`
        self.ip = ip
        self.port = port
        self.state = state
        self.fallback = fallback
        self.slice = slice
        self.targetRef = targetRef
        self.reason = reason
    }

    public var address: EndpointAddress { EndpointAddress(ip: ip, port: port) }

    /// Service port, protocol, address: the order of every listing.
    public static func < (lhs: EndpointStatus, rhs: EndpointStatus) -> Bool {
        (lhs.servicePort, lhs.protocol, lhs.address) < (rhs.servicePort, rhs.protocol, rhs.address)
    }

    /// Why an endpoint has its state: the desired side's verdict and, where it matters, the routed side's.
    ///
    /// Machine-readable (raw values are stable JSON spellings); ``description`` is the sentence for people.
    public enum Reason: String, Hashable, Sendable, Codable, CaseIterable {
        /// Desired and routed (also through the fallback; see ``EndpointStatus/fallback``).
        case desiredAndRouted
        /// Desired; the service port is routed, but not to this endpoint.
        case notRouted
        /// Desired; the dataplane has no such service port at all.
        case servicePortNotInDataplane
        /// Listed as terminating, and not selected (ready endpoints exist, or it is not serving).
        case terminating
        /// Listed as not ready (and not terminating), so not selected.
        case notReady
        /// Listed and ready, but not selected on this node (traffic policy Local, topology hints).
        case notSelectedOnNode
        /// The service port is known, but no slice lists this endpoint (removed from its slice).
        case notInSlices
        /// The desired state has no such service port (Service deleted, port removed).
        case unknownServicePort
    }
}

extension EndpointStatus.Reason: CustomStringConvertible {
    public var description: String {
        switch self {
        case .desiredAndRouted: "desired and routed"
        case .notRouted: "desired, but the service port does not route to it"
        case .servicePortNotInDataplane: "desired, but the service port is not in the dataplane"
        case .terminating: "terminating, not selected"
        case .notReady: "not ready, not selected"
        case .notSelectedOnNode: "not selected on this node (traffic policy or topology)"
        case .notInSlices: "in no EndpointSlice of the service"
        case .unknownServicePort: "service port unknown to the desired state"
        }
    }
}
