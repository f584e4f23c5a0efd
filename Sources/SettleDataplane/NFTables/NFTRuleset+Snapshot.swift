public import SettleModel

extension NFTRuleset {
    /// The name of kube-proxy's tables, in families `ip` and `ip6`.
    public static let kubeProxyTable = "kube-proxy"

    /// What kube-proxy's nftables tables route, per service port.
    ///
    /// Starts from the dispatch maps (`service-ips`, `service-nodeports`) and follows every
    /// `jump`/`goto` and verdict-map target to the DNAT statements reachable from each entry
    /// (reference §1.5). Chains are never enumerated directly: kube-proxy flushes stale chains and
    /// deletes them a sync later, so only reachability counts. Keys in `no-endpoint-services` /
    /// `no-endpoint-nodeports` give service ports with no endpoints; their element comments carry
    /// the service port name. Anything the walk does not understand is skipped with a warning.
    public func kubeProxySnapshot() -> DataplaneSnapshot {
        var ports: [RoutedServicePort] = []
        var warnings: [String] = []
        for family in [NFTFamily.ip, .ip6] {
            guard let table = table(family: family, name: Self.kubeProxyTable) else { continue }
            var walker = KubeProxyTableWalker(table: table)
            ports += walker.servicePorts()
            warnings += walker.warnings
        }
        return DataplaneSnapshot(mode: .nftables, servicePorts: DataplaneSnapshot.merging(ports), warnings: warnings)
    }
}

/// A kube-proxy per-service-port chain name, e.g. `service-ULMVA6XW-ns1/svc1/tcp/p80`.
public struct KubeProxyChainName: Hashable, Sendable {
    public var prefix: String
    public var hash: String
    public var name: ServicePortName
    public var `protocol`: L4Protocol

    /// Parses `<prefix>-<HASH>-<ns>/<name>/<proto>/<portName>`; `nil` for any other chain.
    public init?(_ chain: String) {
        guard let dash = chain.firstIndex(of: "-") else { return nil }
        let rest = chain[chain.index(after: dash)...]
        guard let dash2 = rest.firstIndex(of: "-") else { return nil }
        let hash = rest[..<dash2]
        let parts = rest[rest.index(after: dash2)...].split(separator: "/", omittingEmptySubsequences: false)
        guard hash.count == 8, parts.count == 4, !parts[0].isEmpty, !parts[1].isEmpty,
            let proto = L4Protocol(caseInsensitive: parts[2])
        else { return nil }
        self.prefix = String(chain[..<dash])
        self.hash = String(hash)
        self.name = ServicePortName(namespace: String(parts[0]), name: String(parts[1]), port: String(parts[3]))
        self.protocol = proto
    }
}

struct KubeProxyTableWalker {
    let table: NFTTable
    var warnings: [String] = []
    private var memo: [String: Set<EndpointAddress>] = [:]
    private let clusterIPs: Set<IPAddress>
    private let firewallKeys: Set<[NFTAtom]>

    init(table: NFTTable) {
        self.table = table
        var clusterIPs = Set<IPAddress>()
        for element in table.sets["cluster-ips"]?.elements ?? [] {
            if case .address(let ip)? = element.key.first { clusterIPs.insert(ip) }
        }
        self.clusterIPs = clusterIPs
        self.firewallKeys = Set((table.sets["firewall-ips"]?.elements ?? []).map(\.key))
    }

    private var where_: String { "table \(table.family.name) \(table.name)" }

    mutating func servicePorts() -> [RoutedServicePort] {
        var ports: [RoutedServicePort] = []
        if table.sets["service-ips"] == nil && table.sets["service-nodeports"] == nil {
            warnings.append("\(where_) has no service-ips or service-nodeports map: not a kube-proxy nftables layout Settle knows")
        }
        for element in table.sets["service-ips"]?.elements ?? [] {
            guard element.key.count == 3, case .address(let ip) = element.key[0], case .proto(let proto) = element.key[1],
                case .port(let port) = element.key[2]
            else {
                warnings.append("\(where_): service-ips element \(element.sortKey) is not address . protocol . port; skipped")
                continue
            }
            guard let target = entryTarget(element, map: "service-ips") else { continue }
            let isInternal = target.prefix == "service" || target.prefix == "local"
            let kind: Frontend.Kind =
                isInternal || clusterIPs.contains(ip) ? .clusterIP : firewallKeys.contains(element.key) ? .loadBalancer : .externalIP
            ports.append(routed(target, proto: proto, frontend: Frontend(kind: kind, ip: ip, port: Int(port)), chain: target.chain))
        }
        for element in table.sets["service-nodeports"]?.elements ?? [] {
            guard element.key.count == 2, case .proto(let proto) = element.key[0], case .port(let port) = element.key[1] else {
                warnings.append("\(where_): service-nodeports element \(element.sortKey) is not protocol . port; skipped")
                continue
            }
            guard let target = entryTarget(element, map: "service-nodeports") else { continue }
            ports.append(routed(target, proto: proto, frontend: Frontend(kind: .nodePort, ip: nil, port: Int(port)), chain: target.chain))
        }
        for element in table.sets["no-endpoint-services"]?.elements ?? [] {
            guard element.key.count == 3, case .address(let ip) = element.key[0], case .proto(let proto) = element.key[1],
                case .port(let port) = element.key[2], let l4 = L4Protocol(number: proto)
            else { continue }
            guard let name = element.comment.flatMap(ServicePortName.init(parsing:)) else {
                warnings.append("\(where_): no-endpoint-services element \(element.sortKey) has no service comment; skipped")
                continue
            }
            let kind: Frontend.Kind = clusterIPs.contains(ip) ? .clusterIP : firewallKeys.contains(element.key) ? .loadBalancer : .externalIP
            ports.append(RoutedServicePort(name: name, protocol: l4, frontends: [Frontend(kind: kind, ip: ip, port: Int(port))], endpoints: []))
        }
        for element in table.sets["no-endpoint-nodeports"]?.elements ?? [] {
            guard element.key.count == 2, case .proto(let proto) = element.key[0], case .port(let port) = element.key[1],
                let l4 = L4Protocol(number: proto)
            else { continue }
            guard let name = element.comment.flatMap(ServicePortName.init(parsing:)) else {
                warnings.append("\(where_): no-endpoint-nodeports element \(element.sortKey) has no service comment; skipped")
                continue
            }
            ports.append(RoutedServicePort(name: name, protocol: l4, frontends: [Frontend(kind: .nodePort, ip: nil, port: Int(port))], endpoints: []))
        }
        return ports
    }

    private struct Target {
        var chain: String
        var prefix: String
        var name: KubeProxyChainName
    }

    private mutating func entryTarget(_ element: NFTElement, map: String) -> Target? {
        guard case .verdict(let verdict)? = element.value, let chain = verdict.target else {
            warnings.append("\(where_): \(map) element \(element.sortKey) has no jump/goto verdict; skipped")
            return nil
        }
        guard let name = KubeProxyChainName(chain) else {
            warnings.append("\(where_): \(map) element \(element.sortKey) points to chain \(chain), which is not a kube-proxy service chain; skipped")
            return nil
        }
        return Target(chain: chain, prefix: name.prefix, name: name)
    }

    private mutating func routed(_ target: Target, proto: UInt8, frontend: Frontend, chain: String) -> RoutedServicePort {
        if target.name.protocol.number != proto {
            warnings.append("\(where_): chain \(chain) is for \(target.name.protocol.lowercased) but its map key says protocol \(proto)")
        }
        let endpoints = reachableEndpoints(from: chain, via: chain)
        return RoutedServicePort(name: target.name.name, protocol: target.name.protocol, frontends: [frontend], endpoints: endpoints.sorted())
    }

    /// Every DNAT target reachable from `chain`. nf_tables rejects jump loops, so the chain graph is
    /// a DAG and per-chain results can be memoised.
    private mutating func reachableEndpoints(from chain: String, via entry: String) -> Set<EndpointAddress> {
        if let known = memo[chain] { return known }
        guard let body = table.chains[chain] else {
            warnings.append("\(where_): chain \(chain) (reached from \(entry)) does not exist")
            memo[chain] = []
            return []
        }
        var result = Set<EndpointAddress>()
        for rule in body.rules {
            for statement in rule.statements {
                switch statement {
                case .verdict(let verdict):
                    if let next = verdict.target { result.formUnion(reachableEndpoints(from: next, via: chain)) }
                case .vmap(_, let map):
                    let elements: [NFTElement]
                    switch map {
                    case .anonymous(let e):
                        elements = e
                    case .named(let name):
                        guard let set = table.sets[name], let e = set.elements else {
                            warnings.append("\(where_): chain \(chain) rule \(rule.handle) uses map @\(name), which is missing; skipped")
                            continue
                        }
                        elements = e
                    }
                    for element in elements {
                        if case .verdict(let verdict)? = element.value, let next = verdict.target {
                            result.formUnion(reachableEndpoints(from: next, via: chain))
                        }
                    }
                case .dnat(.literal(let address, let port)):
                    if let port {
                        result.insert(EndpointAddress(ip: address, port: port))
                    } else {
                        warnings.append("\(where_): chain \(chain) rule \(rule.handle) DNATs to \(address) without a port; skipped")
                    }
                case .dnat(.map(_, let targets)):
                    for target in targets {
                        if let port = target.port {
                            result.insert(EndpointAddress(ip: target.address, port: port))
                        } else {
                            warnings.append("\(where_): chain \(chain) rule \(rule.handle) DNATs to \(target.address) without a port; skipped")
                        }
                    }
                case .unsupported(let what):
                    warnings.append("\(where_): chain \(chain) rule \(rule.handle): \(what); skipped")
                }
            }
        }
        memo[chain] = result
        return result
    }
}
