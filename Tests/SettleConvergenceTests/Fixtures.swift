import SettleModel
import SettleSelection

/// Shorthands for desired and routed service ports in convergence tests.
enum Fixture {
    static let web = ServicePortName(namespace: "shop", name: "web", port: "http")
    static let slice = SliceReference(name: "web-abc", uid: "uid-web-abc", generation: 7)

    static func address(_ text: String) -> EndpointAddress {
        let colon = text.lastIndex(of: ":")!
        var host = text[..<colon]
        if host.hasPrefix("[") { host = host.dropFirst().dropLast() }
        return EndpointAddress(ip: IPAddress(host)!, port: Int(text[text.index(after: colon)...])!)
    }

    /// A listed endpoint; `path == .none` makes it excluded. `fallback` follows from readiness, as in the selection.
    static func endpoint(
        _ text: String, ready: Bool = true, terminating: Bool = false, path: DesiredEndpoint.Path = .cluster,
        slice: SliceReference = slice, pod: String? = nil
    ) -> DesiredEndpoint {
        let a = address(text)
        return DesiredEndpoint(
            ip: a.ip, port: a.port, ready: ready, serving: ready || terminating, terminating: terminating, local: false,
            nodeName: nil, zone: nil, targetRef: pod, slice: slice, path: path, fallback: path != .none && !ready)
    }

    static func desired(
        _ name: ServicePortName, _ proto: L4Protocol, _ endpoints: [DesiredEndpoint]
    ) -> DesiredServicePort {
        DesiredServicePort(
            name: name, protocol: proto, frontends: [], endpoints: endpoints.filter(\.isDesired).sorted(),
            excluded: endpoints.filter { !$0.isDesired }.sorted())
    }

    /// `shop/web:http` over TCP.
    static func desired(_ endpoints: [DesiredEndpoint]) -> DesiredServicePort { desired(web, .tcp, endpoints) }

    /// `shop/web:http` over TCP.
    static func routed(_ endpoints: [String]) -> RoutedServicePort { routed(web, .tcp, endpoints) }

    static func routed(_ name: ServicePortName, _ proto: L4Protocol, _ endpoints: [String]) -> RoutedServicePort {
        RoutedServicePort(name: name, protocol: proto, frontends: [], endpoints: endpoints.map(address))
    }

    static func snapshot(_ ports: [RoutedServicePort]) -> DataplaneSnapshot {
        DataplaneSnapshot(mode: .nftables, servicePorts: ports)
    }
}
