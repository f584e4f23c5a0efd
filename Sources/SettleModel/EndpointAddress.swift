/// An endpoint as the dataplane sees it: the DNAT target `ip:port`.
public struct EndpointAddress: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: Int

    public init(ip: IPAddress, port: Int) {
        self.ip = ip
        self.port = port
    }

    /// `10.0.0.1:80` or `[fd00::1]:80`.
    public var description: String { ip.hostPort(port) }

    public static func < (lhs: EndpointAddress, rhs: EndpointAddress) -> Bool {
        (lhs.ip, lhs.port) < (rhs.ip, rhs.port)
    }
}
