import Foundation
import SettleModel

/// `iptables-save` dumps shared by the iptables tests, and helpers to write expectations briefly.
///
/// The dumps under `Fixtures/iptables/` are exactly what `iptables-nft-save` prints after
/// `iptables-nft-restore` of the same text (checked when they were written), so the kernel tests in
/// `SettleDataplaneLinuxTests` load the very same files.
enum IPTablesFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/iptables")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }
}

/// Short constructors for expectations; test suites conform to use them unqualified (no globals,
/// so they cannot clash with other suites of this target).
protocol IPTablesTestHelpers {}

extension IPTablesTestHelpers {
    func ip(_ text: String) -> IPAddress { IPAddress(text)! }
    func ep(_ text: String) -> EndpointAddress {
        let colon = text.lastIndex(of: ":")!
        var host = text[..<colon]
        if host.hasPrefix("[") { host = host.dropFirst().dropLast() }
        return EndpointAddress(ip: IPAddress(host)!, port: Int(text[text.index(after: colon)...])!)
    }
    func clusterIP(_ address: String, _ port: Int) -> Frontend { Frontend(kind: .clusterIP, ip: ip(address), port: port) }
    func externalIP(_ address: String, _ port: Int) -> Frontend { Frontend(kind: .externalIP, ip: ip(address), port: port) }
    func loadBalancer(_ address: String, _ port: Int) -> Frontend { Frontend(kind: .loadBalancer, ip: ip(address), port: port) }
    func nodePort(_ port: Int) -> Frontend { Frontend(kind: .nodePort, ip: nil, port: port) }

    func routed(
        _ name: String, _ proto: L4Protocol = .tcp, frontends: [Frontend], endpoints: [String]
    ) -> RoutedServicePort {
        RoutedServicePort(
            name: ServicePortName(parsing: name)!, protocol: proto, frontends: frontends.sorted(),
            endpoints: endpoints.map(ep).sorted())
    }

    func port(_ snapshot: DataplaneSnapshot, _ name: String, _ proto: L4Protocol = .tcp) -> RoutedServicePort? {
        let n = ServicePortName(parsing: name)!
        return snapshot.servicePorts.first { $0.name == n && $0.protocol == proto }
    }
}
