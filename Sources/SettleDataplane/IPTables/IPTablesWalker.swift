public import SettleModel

/// Recovers "service port → routed endpoints" from one IP family's `iptables-save` dump (nat + filter).
///
/// Follows the route a new connection takes through kube-proxy's iptables rules (KK
/// `pkg/proxy/iptables/proxier.go` (syncProxyRules, writeServiceToEndpointRules); reference §2.4):
/// entries in nat `KUBE-SERVICES` (`-d VIP -p P --dport N`, comment `"ns/name:port cluster IP"` …) and
/// nat `KUBE-NODEPORTS` (reached by the `addrtype LOCAL` or per-node-IP jump at the end of
/// `KUBE-SERVICES`), then `-j`/`-g` through `KUBE-EXT-` / `KUBE-FW-` / `KUBE-SVC-` / `KUBE-SVL-` to
/// `KUBE-SEP-` chains, whose DNAT `--to-destination` is a routed endpoint. Only chains reachable from an
/// entry count: kube-proxy flushes stale chains and deletes them later, and in large-cluster mode only
/// every `syncPeriod`. Service identity comes from the `KUBE-SERVICES`/`KUBE-NODEPORTS` comments (kept in
/// large-cluster mode), or, when a comment is missing, from another entry into a chain with the same hash
/// (SVC, SVL, EXT and FW of one service port share it). Services without endpoints are read from the
/// filter table's `"… has no endpoints"` REJECT and `"… has no local endpoints"` DROP rules.
///
/// A rule it does not understand in a reachable kube-proxy chain is skipped with a warning naming the rule:
/// it never guesses an endpoint. Rules whose target cannot route (`KUBE-MARK-MASQ`, `RETURN`, …) are
/// ignored whatever their matches, because they change no destination.
public struct IPTablesWalker: Sendable {
    /// The walk's output for one family.
    public struct Result: Hashable, Sendable {
        /// One entry per service port and protocol, merged and sorted.
        public var servicePorts: [RoutedServicePort]
        /// Skipped rules, one sentence each, in the order met.
        public var warnings: [String]
        /// Whether the dump holds kube-proxy's `KUBE-SERVICES` chain at all.
        public var hasKubeProxyChains: Bool
    }

    public var save: IPTablesSave
    /// The family the dump was read for; only used to name the tool in warnings.
    public var family: IPAddress.Family

    public init(save: IPTablesSave, family: IPAddress.Family) {
        self.save = save
        self.family = family
    }

    /// Targets that never change a packet's destination: a rule jumping to one is ignored.
    static let nonRoutingTargets: Set<String> = [
        "KUBE-MARK-MASQ", "KUBE-MARK-DROP", "RETURN", "ACCEPT", "DROP", "REJECT", "MARK", "MASQUERADE", "SNAT",
        "CONNMARK", "LOG", "NFLOG", "CT", "NOTRACK", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL",
    ]

    /// Prefixes of kube-proxy's per-service-port chains, which the walk follows.
    static let servicePortChainPrefixes = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"]

    /// Options kube-proxy writes (and `iptables-save` prints back) in the chains the walk reads.
    static let knownOptions: Set<String> = [
        "-s", "--source", "--src", "-d", "--destination", "--dst", "-p", "--protocol", "-i", "--in-interface",
        "-o", "--out-interface", "-m", "--match", "-j", "--jump", "-g", "--goto", "--comment", "--dport",
        "--destination-port", "--sport", "--source-port", "--mode", "--probability", "--every", "--packet",
        "--rcheck", "--update", "--set", "--remove", "--name", "--seconds", "--reap", "--hitcount", "--rttl",
        "--rsource", "--rdest", "--mask", "--dst-type", "--src-type", "--limit-iface-in", "--limit-iface-out",
        "--to-destination", "--random", "--persistent", "--random-fully", "--set-xmark", "--or-mark",
        "--and-mark", "--xor-mark", "--set-mark", "--mark", "--ctstate", "--state", "--reject-with",
        "--nfacct-name",
    ]

    /// Match modules kube-proxy uses in its nat and filter chains.
    static let knownModules: Set<String> = [
        "comment", "tcp", "udp", "sctp", "statistic", "recent", "addrtype", "mark", "conntrack", "state", "nfacct",
    ]

    static func isServicePortChain(_ name: String) -> Bool {
        servicePortChainPrefixes.contains { name.hasPrefix($0) }
    }

    /// The hash part of a per-service-port chain name (`KUBE-SVC-XPGD46QRK7WJZT7O` → `XPGD46QRK7WJZT7O`).
    static func chainHash(_ name: String) -> String? {
        for prefix in servicePortChainPrefixes where name.hasPrefix(prefix) && prefix != "KUBE-SEP-" {
            return String(name.dropFirst(prefix.count))
        }
        return nil
    }

    /// Why a rule is not understood (an unknown option or match module), or `nil`.
    static func unknownPart(of rule: IPTablesRule) -> String? {
        for option in rule.options {
            if option.name == "-m" || option.name == "--match" {
                if let module = option.values.first, !knownModules.contains(module) {
                    return "unknown match module \(module)"
                }
            } else if !knownOptions.contains(option.name) {
                return "unknown option \(option.name)"
            }
        }
        return nil
    }

    /// Parses a DNAT `--to-destination`: `10.244.1.7:8080` or `[fd00::7]:8080`. Ranges and a missing port
    /// are not something kube-proxy writes, so they are `nil`.
    public static func endpoint(fromToDestination text: String) -> EndpointAddress? {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard let ip = IPAddress(host), let number = Int(port), (1...65535).contains(number) else { return nil }
        return EndpointAddress(ip: ip, port: number)
    }

    /// Walks the dump.
    public func walk() -> Result {
        var walk = IPTablesWalk(save: save, tool: family == .ipv4 ? "iptables" : "ip6tables")
        return walk.run()
    }
}
