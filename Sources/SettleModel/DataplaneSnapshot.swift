/// Which kube-proxy backend programmed a node.
public enum DataplaneMode: String, Hashable, Sendable, Codable, CaseIterable {
    case nftables
    case iptables
    case ipvs
}

/// One service port and what the dataplane routes for it (brief §1, §6).
///
/// `endpoints` are the endpoints a *new* connection arriving at any of `frontends` can be sent to.
/// `service` is `nil` where the dataplane carries no names (raw IPVS).
public struct RoutedServicePort: Hashable, Sendable, Codable, Comparable {
    public var service: String?
    public var port: String
    public var `protocol`: L4Protocol
    public var frontends: [Frontend]
    public var endpoints: [EndpointAddress]

    public init(
        service: String?, port: String, protocol: L4Protocol, frontends: [Frontend], endpoints: [EndpointAddress]
    ) {
        self.service = service
        self.port = port
        self.protocol = `protocol`
        self.frontends = frontends
        self.endpoints = endpoints
    }

    public init(name: ServicePortName, protocol: L4Protocol, frontends: [Frontend], endpoints: [EndpointAddress]) {
        self.init(service: name.service, port: name.port, protocol: `protocol`, frontends: frontends, endpoints: endpoints)
    }

    /// The service port's name, when the dataplane told it.
    public var name: ServicePortName? {
        guard let service, let slash = service.firstIndex(of: "/") else { return nil }
        return ServicePortName(
            namespace: String(service[..<slash]), name: String(service[service.index(after: slash)...]), port: port)
    }

    /// Service, port name and protocol: the identity two snapshots are joined on. A port without a
    /// service name (a raw IPVS virtual server) is told apart by its frontends instead.
    public var identity: String {
        guard let service else { return "-|\(frontends.map(\.description).joined(separator: ","))|\(`protocol`.rawValue)" }
        return "\(service)|\(port)|\(`protocol`.rawValue)"
    }

    enum CodingKeys: String, CodingKey { case service, port, `protocol`, frontends, endpoints }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(service, forKey: .service)  // explicit null, as the brief fixes
        try c.encode(port, forKey: .port)
        try c.encode(`protocol`, forKey: .protocol)
        try c.encode(frontends, forKey: .frontends)
        try c.encode(endpoints, forKey: .endpoints)
    }

    public static func < (lhs: RoutedServicePort, rhs: RoutedServicePort) -> Bool {
        if lhs.service != rhs.service {
            guard let l = lhs.service else { return false }
            guard let r = rhs.service else { return true }
            return l < r
        }
        if lhs.port != rhs.port { return lhs.port < rhs.port }
        if lhs.protocol != rhs.protocol { return lhs.protocol < rhs.protocol }
        return lhs.frontends.lexicographicallyPrecedes(rhs.frontends)
    }
}

/// What one node's dataplane routes, per service port: the output of every reader.
public struct DataplaneSnapshot: Hashable, Sendable, Codable {
    public var mode: DataplaneMode
    /// Sorted by service, port name, protocol.
    public var servicePorts: [RoutedServicePort]
    /// Rules or maps the reader did not understand and skipped, one sentence each.
    public var warnings: [String]

    public init(mode: DataplaneMode, servicePorts: [RoutedServicePort], warnings: [String] = []) {
        self.mode = mode
        self.servicePorts = servicePorts.sorted()
        self.warnings = warnings
    }

    /// Joins service ports that several sources (IPv4 and IPv6 tables, say) reported separately:
    /// frontends and endpoints are unioned per identity, and the result is sorted.
    public static func merging(_ ports: [RoutedServicePort]) -> [RoutedServicePort] {
        var byIdentity: [String: RoutedServicePort] = [:]
        var order: [String] = []
        for port in ports {
            if var existing = byIdentity[port.identity] {
                existing.frontends = Array(Set(existing.frontends).union(port.frontends)).sorted()
                existing.endpoints = Array(Set(existing.endpoints).union(port.endpoints)).sorted()
                byIdentity[port.identity] = existing
            } else {
                var port = port
                port.frontends = Array(Set(port.frontends)).sorted()
                port.endpoints = Array(Set(port.endpoints)).sorted()
                byIdentity[port.identity] = port
                order.append(port.identity)
            }
        }
        return order.compactMap { byIdentity[$0] }.sorted()
    }
}
