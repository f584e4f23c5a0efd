public import SettleModel

/// The identity of a service port within one IP family's proxier: name plus protocol.
///
/// Mirrors kube-proxy's `ServicePortName` (KK `pkg/proxy/types.go`), which carries the protocol;
/// Settle's ``SettleModel/ServicePortName`` leaves it out, so this pairs them. EndpointSlice ports
/// join Service ports on this key.
public struct ServicePortKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var name: ServicePortName
    public var `protocol`: L4Protocol

    public init(name: ServicePortName, protocol: L4Protocol) {
        self.name = name
        self.protocol = `protocol`
    }

    /// `ns/name:port/TCP`.
    public var description: String { "\(name)/\(`protocol`.rawValue)" }

    public static func < (lhs: ServicePortKey, rhs: ServicePortKey) -> Bool {
        (lhs.name, lhs.protocol) < (rhs.name, rhs.protocol)
    }
}
