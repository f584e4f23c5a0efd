public import SettleModel

/// How one service port's desired state changed after a ``DesiredStateCache`` event.
///
/// `old == nil`: the service port appeared; `new == nil`: it disappeared. Both present: something
/// in it differs — endpoints, their conditions or paths, frontends, or only the slice generation an
/// endpoint was read from (which matters: acknowledgements are judged by generation, brief §2).
/// Mirrors what kube-proxy's `ServiceChangeTracker`/`EndpointsChangeTracker` report with their
/// previous/current pairs (KK `pkg/proxy/servicechangetracker.go`), after dropping equal pairs.
public struct ServicePortChange: Hashable, Sendable, Comparable {
    public var key: ServicePortKey
    public var old: DesiredServicePort?
    public var new: DesiredServicePort?

    public init(key: ServicePortKey, old: DesiredServicePort?, new: DesiredServicePort?) {
        self.key = key
        self.old = old
        self.new = new
    }

    /// Endpoints desired before, sorted (empty when the port is new).
    public var oldEndpoints: [DesiredEndpoint] { old?.endpoints ?? [] }
    /// Endpoints desired now, sorted (empty when the port is gone).
    public var newEndpoints: [DesiredEndpoint] { new?.endpoints ?? [] }

    /// Addresses desired now that were not before, sorted.
    public var addedAddresses: [EndpointAddress] {
        Array(Set(newEndpoints.map(\.address)).subtracting(oldEndpoints.map(\.address))).sorted()
    }

    /// Addresses desired before that are not any more, sorted.
    public var removedAddresses: [EndpointAddress] {
        Array(Set(oldEndpoints.map(\.address)).subtracting(newEndpoints.map(\.address))).sorted()
    }

    public static func < (lhs: ServicePortChange, rhs: ServicePortChange) -> Bool { lhs.key < rhs.key }
}
