import SettleModel

/// The mutable state of one ``IPTablesWalker`` run: memoised chain results, the entries found, warnings.
struct IPTablesWalk {
    /// A service port and protocol: what one ``RoutedServicePort`` is keyed on.
    struct Key: Hashable {
        var name: ServicePortName
        var `protocol`: L4Protocol
    }

    /// An entry rule whose comment did not name the service; resolved through the chain hash afterwards.
    struct PendingEntry {
        var rule: IPTablesRule
        var chain: String
        var `protocol`: L4Protocol
        var frontends: [Frontend]
    }

    let save: IPTablesSave
    let tool: String
    let nat: IPTablesTable
    let filter: IPTablesTable

    var warnings: [String] = []
    var warned: Set<String> = []
    var memo: [String: Set<EndpointAddress>] = [:]
    var visiting: Set<String> = []
    var frontends: [Key: Set<Frontend>] = [:]
    var endpoints: [Key: Set<EndpointAddress>] = [:]
    /// Identity learned from commented entries, by chain hash.
    var keyByHash: [String: Key] = [:]
    /// Frontend kinds seen in nat by `proto ip:port`, to label filter-table `-d` rules (external IP or
    /// load balancer: the filter rule itself does not say).
    var natKinds: [String: Frontend.Kind] = [:]

    init(save: IPTablesSave, tool: String) {
        self.save = save
        self.tool = tool
        self.nat = save[table: "nat"] ?? IPTablesTable(name: "nat")
        self.filter = save[table: "filter"] ?? IPTablesTable(name: "filter")
    }

    mutating func warn(_ rule: IPTablesRule, table: String, _ reason: String) {
        warn("\(tool) \(table) \(rule.chain): skipped rule (\(reason)): \(rule.text)")
    }

    mutating func warn(_ message: String) {
        if warned.insert(message).inserted { warnings.append(message) }
    }

    mutating func run() -> IPTablesWalker.Result {
        let hasChains = nat.hasChain("KUBE-SERVICES") || filter.hasChain("KUBE-SERVICES")
        guard hasChains else {
            return IPTablesWalker.Result(servicePorts: [], warnings: save.warnings, hasKubeProxyChains: false)
        }
        warnings = save.warnings
        warned = Set(warnings)
        let nodePortAddresses = readServices()
        readNodePorts(addresses: nodePortAddresses)
        readNoEndpoints(nodePortAddresses: nodePortAddresses)

        var ports: [RoutedServicePort] = []
        for (key, frontendSet) in frontends {
            ports.append(
                RoutedServicePort(
                    name: key.name, protocol: key.protocol, frontends: frontendSet.sorted(),
                    endpoints: (endpoints[key] ?? []).sorted()))
        }
        return IPTablesWalker.Result(
            servicePorts: DataplaneSnapshot.merging(ports), warnings: warnings, hasKubeProxyChains: true)
    }

    mutating func add(_ key: Key, frontends new: [Frontend], endpoints reached: Set<EndpointAddress>) {
        frontends[key, default: []].formUnion(new)
        endpoints[key, default: []].formUnion(reached)
    }

    // MARK: - nat KUBE-SERVICES

    /// Reads the nat `KUBE-SERVICES` entries; returns the node-port addresses of the jumps to
    /// `KUBE-NODEPORTS` (`nil` = every local address, `addrtype --dst-type LOCAL`).
    mutating func readServices() -> [IPAddress?] {
        var nodePortAddresses: [IPAddress?] = []
        var pending: [PendingEntry] = []
        for rule in nat.rules(of: "KUBE-SERVICES") {
            guard let target = rule.target, !IPTablesWalker.nonRoutingTargets.contains(target) else { continue }
            if let problem = IPTablesWalker.unknownPart(of: rule) {
                warn(rule, table: "nat", problem)
                continue
            }
            if target == "KUBE-NODEPORTS" {
                if let type = rule.destinationAddressType, type.type == "LOCAL", !type.negated,
                    rule.destination?.negated ?? true
                {
                    // A negated `-d` only takes loopback out (`! -d ::1/128` always for IPv6, `! -d 127.0.0.0/8`
                    // with `--iptables-localhost-nodeports=false`); node ports are still on every local address.
                    nodePortAddresses.append(nil)
                } else if let ip = rule.destination?.singleAddress {
                    nodePortAddresses.append(ip)
                } else {
                    warn(rule, table: "nat", "jump to KUBE-NODEPORTS for neither LOCAL nor one node address")
                }
                continue
            }
            guard IPTablesWalker.isServicePortChain(target), !target.hasPrefix("KUBE-SEP-") else {
                warn(rule, table: "nat", "target \(target) is not a kube-proxy service chain")
                continue
            }
            guard let proto = rule.l4Protocol else {
                warn(rule, table: "nat", "no TCP/UDP/SCTP -p match")
                continue
            }
            guard let port = rule.destinationPort else {
                warn(rule, table: "nat", "no single --dport")
                continue
            }
            guard let ip = rule.destination?.singleAddress else {
                warn(rule, table: "nat", "no single-address -d match")
                continue
            }
            var kind: Frontend.Kind?
            var name: ServicePortName?
            if let comment = rule.comment, case .frontend(let n, let k) = IPTablesServiceComment(comment) {
                name = n
                kind = k
            }
            if kind == nil {
                // Kind from the chain kube-proxy jumps to when the comment is missing.
                if target.hasPrefix("KUBE-SVC-") || target.hasPrefix("KUBE-SVL-") { kind = .clusterIP }
                if target.hasPrefix("KUBE-FW-") { kind = .loadBalancer }
            }
            guard let kind else {
                warn(rule, table: "nat", "no kube-proxy service comment to tell the frontend kind")
                continue
            }
            let frontend = Frontend(kind: kind, ip: ip, port: port)
            natKinds["\(proto.rawValue) \(ip.hostPort(port))"] = kind
            if let name {
                let key = Key(name: name, protocol: proto)
                if let hash = IPTablesWalker.chainHash(target) { keyByHash[hash] = key }
                let reached = endpoints(from: target)
                add(key, frontends: [frontend], endpoints: reached)
            } else {
                pending.append(PendingEntry(rule: rule, chain: target, protocol: proto, frontends: [frontend]))
            }
        }
        resolve(pending)
        return nodePortAddresses
    }

    /// Entries without a service comment take the identity of a commented entry into the same hash.
    mutating func resolve(_ pending: [PendingEntry]) {
        for entry in pending {
            guard let hash = IPTablesWalker.chainHash(entry.chain), let key = keyByHash[hash],
                key.protocol == entry.protocol
            else {
                warn(entry.rule, table: "nat", "no service comment, and no commented entry shares its chain hash")
                continue
            }
            add(key, frontends: entry.frontends, endpoints: endpoints(from: entry.chain))
        }
    }

    // MARK: - nat KUBE-NODEPORTS

    mutating func readNodePorts(addresses: [IPAddress?]) {
        let rules = nat.rules(of: "KUBE-NODEPORTS")
        guard !rules.isEmpty else { return }
        var addresses = addresses
        if addresses.isEmpty {
            warn(
                "\(tool) nat KUBE-SERVICES has no jump to KUBE-NODEPORTS; node ports are reported as if on every local address"
            )
            addresses = [nil]
        }
        var pending: [PendingEntry] = []
        for rule in rules {
            guard let target = rule.target, !IPTablesWalker.nonRoutingTargets.contains(target) else { continue }
            if let problem = IPTablesWalker.unknownPart(of: rule) {
                warn(rule, table: "nat", problem)
                continue
            }
            guard IPTablesWalker.isServicePortChain(target), !target.hasPrefix("KUBE-SEP-") else {
                warn(rule, table: "nat", "target \(target) is not a kube-proxy service chain")
                continue
            }
            guard let proto = rule.l4Protocol else {
                warn(rule, table: "nat", "no TCP/UDP/SCTP -p match")
                continue
            }
            guard let port = rule.destinationPort else {
                warn(rule, table: "nat", "no single --dport")
                continue
            }
            let ips: [IPAddress?] = rule.destination?.singleAddress.map { [$0] } ?? addresses
            let nodePorts = ips.map { Frontend(kind: .nodePort, ip: $0, port: port) }
            if let comment = rule.comment, case .servicePort(let name) = IPTablesServiceComment(comment) {
                add(Key(name: name, protocol: proto), frontends: nodePorts, endpoints: endpoints(from: target))
            } else {
                pending.append(PendingEntry(rule: rule, chain: target, protocol: proto, frontends: nodePorts))
            }
        }
        resolve(pending)
    }

    // MARK: - chains to endpoints

    /// Every endpoint a DNAT in a `KUBE-SEP-` chain reachable from `chain` sends to.
    mutating func endpoints(from chain: String) -> Set<EndpointAddress> {
        if let known = memo[chain] { return known }
        guard nat.hasChain(chain) else {
            warn("\(tool) nat: a rule jumps to chain \(chain), which the dump does not declare; nothing routed through it")
            memo[chain] = []
            return []
        }
        guard visiting.insert(chain).inserted else {
            warn("\(tool) nat \(chain): jump loop; not followed again")
            return []
        }
        defer { visiting.remove(chain) }
        let isEndpointChain = chain.hasPrefix("KUBE-SEP-")
        var reached: Set<EndpointAddress> = []
        for rule in nat.rules(of: chain) {
            guard let target = rule.target, !IPTablesWalker.nonRoutingTargets.contains(target) else { continue }
            if let problem = IPTablesWalker.unknownPart(of: rule) {
                warn(rule, table: "nat", problem)
                continue
            }
            if target == "DNAT" {
                guard isEndpointChain else {
                    warn(rule, table: "nat", "DNAT outside a KUBE-SEP chain")
                    continue
                }
                guard let text = rule.toDestination, let endpoint = IPTablesWalker.endpoint(fromToDestination: text)
                else {
                    warn(rule, table: "nat", "DNAT --to-destination is not one IP:port")
                    continue
                }
                reached.insert(endpoint)
            } else if IPTablesWalker.isServicePortChain(target) {
                reached.formUnion(endpoints(from: target))
            } else {
                warn(rule, table: "nat", "target \(target) is not a kube-proxy service chain")
            }
        }
        memo[chain] = reached
        return reached
    }

    // MARK: - filter: services without endpoints

    /// Frontends of services whose filter-table rule says they have no (local) endpoints.
    mutating func readNoEndpoints(nodePortAddresses: [IPAddress?]) {
        let nodeAddresses = nodePortAddresses.isEmpty ? [nil] : nodePortAddresses
        for chain in ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS"] {
            for rule in filter.rules(of: chain) {
                guard let target = rule.target, target == "REJECT" || target == "DROP",
                    let comment = rule.comment, case .noEndpoints(let name, _) = IPTablesServiceComment(comment)
                else { continue }
                if let problem = IPTablesWalker.unknownPart(of: rule) {
                    warn(rule, table: "filter", problem)
                    continue
                }
                guard let proto = rule.l4Protocol, let port = rule.destinationPort else {
                    warn(rule, table: "filter", "no TCP/UDP/SCTP -p and single --dport")
                    continue
                }
                let key = Key(name: name, protocol: proto)
                if let ip = rule.destination?.singleAddress {
                    let kind: Frontend.Kind
                    if chain == "KUBE-SERVICES" {
                        kind = .clusterIP
                    } else if let seen = natKinds["\(proto.rawValue) \(ip.hostPort(port))"] {
                        kind = seen
                    } else {
                        // kube-proxy writes external and load-balancer IPs alike here; without a nat entry
                        // for the same address the rule cannot tell which. Load balancers are the common case.
                        kind = .loadBalancer
                    }
                    add(key, frontends: [Frontend(kind: kind, ip: ip, port: port)], endpoints: [])
                } else if rule.destination == nil, chain != "KUBE-SERVICES" {
                    add(key, frontends: nodeAddresses.map { Frontend(kind: .nodePort, ip: $0, port: port) }, endpoints: [])
                } else {
                    warn(rule, table: "filter", "no single-address -d match")
                }
            }
        }
    }
}
