public import SettleModel

extension EndpointStatus {
    /// Service port, protocol and address: what identifies one endpoint's status across evaluations.
    public struct Key: Hashable, Sendable, Comparable, CustomStringConvertible {
        public var servicePort: ServicePortName
        public var `protocol`: L4Protocol
        public var address: EndpointAddress

        public init(servicePort: ServicePortName, protocol: L4Protocol, address: EndpointAddress) {
            self.servicePort = servicePort
            self.protocol = `protocol`
            self.address = address
        }

        /// `ns/name:port/TCP 10.0.0.1:80`.
        public var description: String { "\(servicePort)/\(`protocol`.rawValue) \(address)" }

        public static func < (lhs: Key, rhs: Key) -> Bool {
            (lhs.servicePort, lhs.protocol, lhs.address) < (rhs.servicePort, rhs.protocol, rhs.address)
        }
    }

    public var key: Key { Key(servicePort: servicePort, protocol: `protocol`, address: address) }
}
