/// Every endpoint's state on one node, and whether the node has converged.
public struct ConvergenceReport: Hashable, Sendable, Codable {
    /// Sorted by service port, protocol, address; one entry per (service port, endpoint).
    public var endpoints: [EndpointStatus]

    public init(endpoints: [EndpointStatus]) {
        self.endpoints = endpoints.sorted()
    }

    /// No endpoint is `missing` or `stale`.
    public var converged: Bool { endpoints.allSatisfy(\.state.isConverged) }

    /// The endpoints that are `missing` or `stale`, in order.
    public var divergent: [EndpointStatus] { endpoints.filter { !$0.state.isConverged } }

    /// How many endpoints are in `state`.
    public func count(_ state: EndpointState) -> Int { endpoints.count { $0.state == state } }

    /// How many `programmed` endpoints are routed only as the serving-terminating fallback.
    public var fallbackCount: Int { endpoints.count(where: \.fallback) }
}
