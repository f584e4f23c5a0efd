/// An address a new connection can arrive on for a service port (brief §1).
public struct Frontend: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
        case clusterIP
        case nodePort
        case loadBalancer
        case externalIP

        private var rank: Int {
            switch self {
            case .clusterIP: 0
            case .externalIP: 1
            case .loadBalancer: 2
            case .nodePort: 3
            }
        }

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rank < rhs.rank }
    }

    public var kind: Kind
    /// The destination address; `nil` for a NodePort that accepts traffic on every node address.
    public var ip: IPAddress?
    public var port: Int

    public init(kind: Kind, ip: IPAddress?, port: Int) {
        self.kind = kind
        self.ip = ip
        self.port = port
    }

    public var description: String {
        if let ip { return "\(kind.rawValue) \(ip.hostPort(port))" }
        return "\(kind.rawValue) *:\(port)"
    }

    public static func < (lhs: Frontend, rhs: Frontend) -> Bool {
        if lhs.kind != rhs.kind { return lhs.kind < rhs.kind }
        if lhs.ip != rhs.ip {
            guard let l = lhs.ip else { return true }
            guard let r = rhs.ip else { return false }
            return l < r
        }
        return lhs.port < rhs.port
    }

    enum CodingKeys: String, CodingKey { case kind, ip, port }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(ip, forKey: .ip)
        try c.encode(port, forKey: .port)
    }
}
