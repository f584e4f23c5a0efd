public import SettleModel

/// Which service port each IPVS virtual server belongs to, from the Services' frontends.
///
/// IPVS carries no names and no comments (reference §3): a virtual server is only
/// protocol, address and port. kube-proxy creates one per ClusterIP, external IP and LB ingress
/// IP (each `ip:port`), and one per node address for a NodePort. So a virtual server whose
/// `(protocol, ip, port)` is one of a service port's address frontends belongs to it with that
/// frontend's kind; otherwise one whose `(protocol, port)` is a service port's NodePort is that
/// NodePort on one of the node's addresses. Anything else stays unnamed (`service: null`).
public struct IPVSServiceNames: Sendable, Hashable {
    struct AddressKey: Hashable {
        var `protocol`: L4Protocol
        var ip: IPAddress
        var port: Int
    }

    struct PortKey: Hashable {
        var `protocol`: L4Protocol
        var port: Int
    }

    struct Target: Hashable {
        var name: ServicePortName
        var kind: Frontend.Kind
    }

    private var byAddress: [AddressKey: Target] = [:]
    private var byNodePort: [PortKey: ServicePortName] = [:]

    /// One entry per service port: its name, protocol and frontends (``Frontend/ip`` `nil` for a
    /// NodePort on every node address). When two service ports claim one frontend (they should not),
    /// the first in name order keeps it, so the answer does not depend on input order.
    public init(_ servicePorts: some Sequence<(name: ServicePortName, protocol: L4Protocol, frontends: [Frontend])>) {
        let ordered = servicePorts.sorted { ($0.name, $0.protocol) < ($1.name, $1.protocol) }
        for port in ordered {
            for frontend in port.frontends {
                if let ip = frontend.ip {
                    let key = AddressKey(protocol: port.protocol, ip: ip, port: frontend.port)
                    if byAddress[key] == nil { byAddress[key] = Target(name: port.name, kind: frontend.kind) }
                } else if frontend.kind == .nodePort {
                    let key = PortKey(protocol: port.protocol, port: frontend.port)
                    if byNodePort[key] == nil { byNodePort[key] = port.name }
                }
            }
        }
    }

    /// No Services known: every virtual server stays unnamed.
    public static let none = IPVSServiceNames([(name: ServicePortName, protocol: L4Protocol, frontends: [Frontend])]())

    public var isEmpty: Bool { byAddress.isEmpty && byNodePort.isEmpty }

    /// The service port and frontend kind of a virtual server, or `nil` when no Service has it.
    public func name(of server: IPVSVirtualServer) -> (name: ServicePortName, kind: Frontend.Kind)? {
        if let target = byAddress[AddressKey(protocol: server.protocol, ip: server.address, port: server.port)] {
            return (target.name, target.kind)
        }
        if let name = byNodePort[PortKey(protocol: server.protocol, port: server.port)] { return (name, .nodePort) }
        return nil
    }
}

extension IPVSTable {
    /// What this table routes, per service port.
    ///
    /// A virtual server's routed endpoints are its real servers with weight > 0 (weight 0 is
    /// draining: no new connections). Named virtual servers (see ``IPVSServiceNames``) of one
    /// service port are merged — all its frontends, the union of their endpoints. Unnamed ones are
    /// listed one each with `service: null`, port name `""` and one frontend, whose kind is
    /// `clusterIP` when its address is bound to kube-proxy's `kube-ipvs0` interface (ClusterIPs,
    /// external and LB IPs are; IPVS cannot tell those three apart) and `nodePort` otherwise (node
    /// addresses are not bound there). Firewall-mark services (not kube-proxy's) are skipped with a
    /// warning.
    public func snapshot(names: IPVSServiceNames = .none, boundAddresses: Set<IPAddress> = []) -> DataplaneSnapshot {
        var named: [RoutedServicePort] = []
        var unnamed: [RoutedServicePort] = []
        var warnings = warnings
        for server in virtualServers {
            guard server.firewallMark == 0 else {
                warnings.append("IPVS firewall-mark virtual server \(server.firewallMark) skipped: kube-proxy does not program them")
                continue
            }
            let endpoints = server.destinations.filter(\.takesNewConnections).map(\.endpoint)
            if let (name, kind) = names.name(of: server) {
                let frontend = Frontend(kind: kind, ip: server.address, port: server.port)
                named.append(RoutedServicePort(name: name, protocol: server.protocol, frontends: [frontend], endpoints: endpoints))
            } else {
                let kind: Frontend.Kind = boundAddresses.contains(server.address) ? .clusterIP : .nodePort
                let frontend = Frontend(kind: kind, ip: server.address, port: server.port)
                unnamed.append(
                    RoutedServicePort(
                        service: nil, port: "", protocol: server.protocol, frontends: [frontend],
                        endpoints: Array(Set(endpoints)).sorted()))
            }
        }
        return DataplaneSnapshot(mode: .ipvs, servicePorts: DataplaneSnapshot.merging(named) + unnamed, warnings: warnings)
    }
}
