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
            var walker = KubeProxyTableWalker(source: table)
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

/// What the kube-proxy walk reads from one table: rules by chain, named sets by name. An
/// ``NFTTable`` is one; the change-event mirror (`NFTMirror`) is another, so both walk with the
/// same code and give the same answers.
protocol KubeProxyWalkSource {
    var family: NFTFamily { get }
    var name: String { get }
    /// The chain's rules in order, or `nil` when the chain does not exist.
    func rules(ofChain chain: String) -> [NFTRule]?
    /// A named set or map (elements `nil` for interval sets), or `nil` when it does not exist.
    func namedSet(_ name: String) -> NFTSet?
    /// Addresses in `cluster-ips`.
    var kubeProxyClusterIPs: Set<IPAddress> { get }
    /// Keys of `firewall-ips`.
    var kubeProxyFirewallKeys: Set<[NFTAtom]> { get }
}

extension KubeProxyWalkSource {
    var kubeProxyClusterIPs: Set<IPAddress> {
        var clusterIPs = Set<IPAddress>()
        for element in namedSet("cluster-ips")?.elements ?? [] {
            if case .address(let ip)? = element.key.first { clusterIPs.insert(ip) }
        }
        return clusterIPs
    }

    var kubeProxyFirewallKeys: Set<[NFTAtom]> { Set((namedSet("firewall-ips")?.elements ?? []).map(\.key)) }
}

extension NFTTable: KubeProxyWalkSource {
    func rules(ofChain chain: String) -> [NFTRule]? { chains[chain]?.rules }
    func namedSet(_ name: String) -> NFTSet? { sets[name] }
}

/// kube-proxy's dispatch maps and sets: every service port the walk reports starts at one of
/// their elements.
enum KubeProxyDispatchMap: String, CaseIterable, Hashable, Sendable {
    case serviceIPs = "service-ips"
    case serviceNodePorts = "service-nodeports"
    case noEndpointServices = "no-endpoint-services"
    case noEndpointNodePorts = "no-endpoint-nodeports"

    /// Whether the key starts with the frontend address (so `cluster-ips`/`firewall-ips` decide its kind).
    var keyHasAddress: Bool { self == .serviceIPs || self == .noEndpointServices }
}

struct KubeProxyTableWalker<Source: KubeProxyWalkSource> {
    let source: Source
    var warnings: [String] = []
    /// When set, ``entry(_:in:)`` reports the chains and named sets each walk read, so a caller can
    /// re-walk only the entries a change can affect. Off for full reads (it costs a set per chain).
    var recordDependencies = false
    private var memo: [String: Reach] = [:]
    private let clusterIPs: Set<IPAddress>
    private let firewallKeys: Set<[NFTAtom]>

    /// What a chain reaches: DNAT targets and, when recording, every chain and named set read on the way.
    struct Reach {
        var endpoints: Set<EndpointAddress> = []
        var chains: Set<String> = []
        var sets: Set<String> = []

        mutating func formUnion(_ other: Reach) {
            endpoints.formUnion(other.endpoints)
            chains.formUnion(other.chains)
            sets.formUnion(other.sets)
        }
    }

    /// One dispatch entry's service port, and what its walk read.
    struct Entry {
        var port: RoutedServicePort
        var chains: Set<String>
        var sets: Set<String>
    }

    init(source: Source) {
        self.source = source
        self.clusterIPs = source.kubeProxyClusterIPs
        self.firewallKeys = source.kubeProxyFirewallKeys
    }

    private var where_: String { "table \(source.family.name) \(source.name)" }

    mutating func servicePorts() -> [RoutedServicePort] {
        var ports: [RoutedServicePort] = []
        if source.namedSet("service-ips") == nil && source.namedSet("service-nodeports") == nil {
            warnings.append("\(where_) has no service-ips or service-nodeports map: not a kube-proxy nftables layout Settle knows")
        }
        for map in KubeProxyDispatchMap.allCases {
            for element in source.namedSet(map.rawValue)?.elements ?? [] {
                if let entry = entry(element, in: map) { ports.append(entry.port) }
            }
        }
        return ports
    }

    /// The service port one element of a dispatch map gives, or `nil` (with a warning where the
    /// element is malformed) when it gives none.
    mutating func entry(_ element: NFTElement, in map: KubeProxyDispatchMap) -> Entry? {
        switch map {
        case .serviceIPs:
            guard element.key.count == 3, case .address(let ip) = element.key[0], case .proto(let proto) = element.key[1],
                case .port(let port) = element.key[2]
            else {
                warnings.append("\(where_): service-ips element \(element.sortKey) is not address . protocol . port; skipped")
                return nil
            }
            guard let target = entryTarget(element, map: "service-ips") else { return nil }
            let isInternal = target.prefix == "service" || target.prefix == "local"
            let kind: Frontend.Kind =
                isInternal || clusterIPs.contains(ip) ? .clusterIP : firewallKeys.contains(element.key) ? .loadBalancer : .externalIP
            return routed(target, proto: proto, frontend: Frontend(kind: kind, ip: ip, port: Int(port)), chain: target.chain)
        case .serviceNodePorts:
            guard element.key.count == 2, case .proto(let proto) = element.key[0], case .port(let port) = element.key[1] else {
                warnings.append("\(where_): service-nodeports element \(element.sortKey) is not protocol . port; skipped")
                return nil
            }
            guard let target = entryTarget(element, map: "service-nodeports") else { return nil }
            return routed(target, proto: proto, frontend: Frontend(kind: .nodePort, ip: nil, port: Int(port)), chain: target.chain)
        case .noEndpointServices:
            guard element.key.count == 3, case .address(let ip) = element.key[0], case .proto(let proto) = element.key[1],
                case .port(let port) = element.key[2], let l4 = L4Protocol(number: proto)
            else { return nil }
            guard let name = element.comment.flatMap(ServicePortName.init(parsing:)) else {
                warnings.append("\(where_): no-endpoint-services element \(element.sortKey) has no service comment; skipped")
                return nil
            }
            let kind: Frontend.Kind = clusterIPs.contains(ip) ? .clusterIP : firewallKeys.contains(element.key) ? .loadBalancer : .externalIP
            let routed = RoutedServicePort(name: name, protocol: l4, frontends: [Frontend(kind: kind, ip: ip, port: Int(port))], endpoints: [])
            return Entry(port: routed, chains: [], sets: [])
        case .noEndpointNodePorts:
            guard element.key.count == 2, case .proto(let proto) = element.key[0], case .port(let port) = element.key[1],
                let l4 = L4Protocol(number: proto)
            else { return nil }
            guard let name = element.comment.flatMap(ServicePortName.init(parsing:)) else {
                warnings.append("\(where_): no-endpoint-nodeports element \(element.sortKey) has no service comment; skipped")
                return nil
            }
            let routed = RoutedServicePort(name: name, protocol: l4, frontends: [Frontend(kind: .nodePort, ip: nil, port: Int(port))], endpoints: [])
            return Entry(port: routed, chains: [], sets: [])
        }
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

    private mutating func routed(_ target: Target, proto: UInt8, frontend: Frontend, chain: String) -> Entry {
        if target.name.protocol.number != proto {
            warnings.append("\(where_): chain \(chain) is for \(target.name.protocol.lowercased) but its map key says protocol \(proto)")
        }
        let reach = reachable(from: chain, via: chain)
        let port = RoutedServicePort(name: target.name.name, protocol: target.name.protocol, frontends: [frontend], endpoints: reach.endpoints.sorted())
        return Entry(port: port, chains: reach.chains, sets: reach.sets)
    }

    /// Every DNAT target reachable from `chain`. nf_tables rejects jump loops, so the chain graph is
    /// a DAG and per-chain results can be memoised.
    private mutating func reachable(from chain: String, via entry: String) -> Reach {
        if let known = memo[chain] { return known }
        var result = Reach()
        if recordDependencies { result.chains.insert(chain) }
        guard let rules = source.rules(ofChain: chain) else {
            warnings.append("\(where_): chain \(chain) (reached from \(entry)) does not exist")
            memo[chain] = result
            return result
        }
        for rule in rules {
            for statement in rule.statements {
                switch statement {
                case .verdict(let verdict):
                    if let next = verdict.target { result.formUnion(reachable(from: next, via: chain)) }
                case .vmap(_, let map):
                    let elements: [NFTElement]
                    switch map {
                    case .anonymous(let e):
                        elements = e
                    case .named(let name):
                        if recordDependencies { result.sets.insert(name) }
                        guard let set = source.namedSet(name), let e = set.elements else {
                            warnings.append("\(where_): chain \(chain) rule \(rule.handle) uses map @\(name), which is missing; skipped")
                            continue
                        }
                        elements = e
                    }
                    for element in elements {
                        if case .verdict(let verdict)? = element.value, let next = verdict.target {
                            result.formUnion(reachable(from: next, via: chain))
                        }
                    }
                case .dnat(.literal(let address, let port)):
                    if let port {
                        result.endpoints.insert(EndpointAddress(ip: address, port: port))
                    } else {
                        warnings.append("\(where_): chain \(chain) rule \(rule.handle) DNATs to \(address) without a port; skipped")
                    }
                case .dnat(.map(_, let targets)):
                    for target in targets {
                        if let port = target.port {
                            result.endpoints.insert(EndpointAddress(ip: target.address, port: port))
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
