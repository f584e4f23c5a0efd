/// The identity of one port of a Service: `namespace/name:portName`.
///
/// Mirrors kube-proxy's `ServicePortName` (KK `pkg/proxy/types.go`), without the protocol, which
/// travels beside it. An unnamed port has `port == ""` and prints as `namespace/name`, exactly as
/// kube-proxy's `String()` does (that spelling appears in iptables comments and nftables element
/// comments, so parsers depend on it).
public struct ServicePortName: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    /// The Service port's `name`; empty for an unnamed port.
    public var port: String

    public init(namespace: String, name: String, port: String) {
        self.namespace = namespace
        self.name = name
        self.port = port
    }

    /// `namespace/name`.
    public var service: String { "\(namespace)/\(name)" }

    /// `namespace/name:port`, or `namespace/name` when the port is unnamed.
    public var description: String { port.isEmpty ? service : "\(service):\(port)" }

    /// Parses kube-proxy's `String()` form: `ns/name:port` or `ns/name`.
    public init?(parsing text: some StringProtocol) {
        let text = String(text)
        guard let slash = text.firstIndex(of: "/") else { return nil }
        let namespace = String(text[..<slash])
        let rest = text[text.index(after: slash)...]
        let name: String
        let port: String
        if let colon = rest.firstIndex(of: ":") {
            name = String(rest[..<colon])
            port = String(rest[rest.index(after: colon)...])
        } else {
            name = String(rest)
            port = ""
        }
        guard !namespace.isEmpty, !name.isEmpty, !name.contains("/") else { return nil }
        self.init(namespace: namespace, name: name, port: port)
    }

    public static func < (lhs: ServicePortName, rhs: ServicePortName) -> Bool {
        (lhs.namespace, lhs.name, lhs.port) < (rhs.namespace, rhs.name, rhs.port)
    }
}
