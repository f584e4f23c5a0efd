import SettleModel

/// Writes kube-proxy's nftables ruleset for a set of service ports, as `nft -f` input.
///
/// Mirrors `setupNFTables`, `syncProxyRules` and `writeServiceToEndpointRules` of KK
/// `pkg/proxy/nftables/proxier.go` for a full sync, in one of three historical layouts (see
/// ``Layout``). Both `table ip kube-proxy` and `table ip6 kube-proxy` are written when the input
/// has ClusterIPs of that family (IPv4 always, so an empty input still yields the base table).
///
/// The output exists so that readers, the agent and the lab can be tested against the exact
/// shapes kube-proxy programs, loaded into a real kernel.
public struct NFTablesRuleWriter: Sendable, Hashable {
    /// The endpoint-dispatch shape kube-proxy used in a given release.
    public enum Layout: String, Sendable, Hashable, CaseIterable, Codable {
        /// Gen A (≈1.29–1.35): per-endpoint `endpoint-…` chains behind
        /// `numgen random mod N vmap { i : goto endpoint-… }`, the `mark-for-masquerade` chain,
        /// hairpin masquerade in each endpoint chain.
        case endpointChains
        /// Gen B (1.36): `meta l4proto P dnat ip addr . port to numgen random mod N map { … }` in
        /// the service chain; endpoint chains only for ClientIP-affinity services; no
        /// `mark-for-masquerade`; hairpin via `@hairpin-connections`; off-cluster ClusterIP
        /// masquerade as one rule in `services`.
        case inlineMap
        /// Gen C (1.37): Gen B, but a single-endpoint service does `dnat to IP:port` directly.
        case directSingle
    }

    public var layout: Layout
    /// Pod CIDRs (kube-proxy's `--cluster-cidr` local detector), any family. Empty means "no
    /// local detector": no off-cluster masquerade rules and no pod short-circuit rules.
    public var podCIDRs: [String]
    /// Service CIDRs for the `cluster-ips-check` drop rule, any family; empty omits that rule.
    public var serviceCIDRs: [String]
    /// `--nodeport-addresses` resolved to node IPs; `nil` means all local addresses, written as
    /// `fib daddr type local` (and no `nodeport-ips` set), as kube-proxy does for "match all".
    public var nodePortAddresses: [IPAddress]?
    /// The node's primary IPs (one per family), used to let the node reach its own LB VIPs when a
    /// source range contains the node IP (kube-proxy `allowFromNode`).
    public var nodeIPs: [IPAddress]
    /// The masquerade mark (`1 << masqueradeBit`, default bit 14).
    public var masqueradeMark: UInt32
    /// How many elements one `add element` statement carries in ``batches(for:)``. kube-proxy's
    /// own transaction (``transaction(for:)``) always writes one per statement.
    public var elementsPerStatement: Int
    /// At most this many statements per batch in ``batches(for:)``; a larger group is split into
    /// several consecutive batches. Measured on a 10,000-service ruleset: 10,000 numgen-map rules
    /// load in ~25 s as one transaction and ~10 s in batches of 1,000 (kernel time dominates).
    /// `nil` keeps each group in one batch.
    public var statementsPerBatch: Int?
    /// When true, ``batches(for:)`` starts by deleting any existing `kube-proxy` tables, so a
    /// new state can be loaded over an old one (kube-proxy itself syncs incrementally instead).
    public var replaceExisting: Bool

    public init(
        layout: Layout = .endpointChains,
        podCIDRs: [String] = ["10.0.0.0/8", "fd00:10::/64"],
        serviceCIDRs: [String] = ["172.30.0.0/16", "fd00:10:96::/112"],
        nodePortAddresses: [IPAddress]? = nil,
        nodeIPs: [IPAddress] = [],
        masqueradeMark: UInt32 = 0x4000,
        elementsPerStatement: Int = 1000,
        statementsPerBatch: Int? = 1000,
        replaceExisting: Bool = false
    ) {
        self.layout = layout
        self.podCIDRs = podCIDRs
        self.serviceCIDRs = serviceCIDRs
        self.nodePortAddresses = nodePortAddresses
        self.nodeIPs = nodeIPs
        self.masqueradeMark = masqueradeMark
        self.elementsPerStatement = elementsPerStatement
        self.statementsPerBatch = statementsPerBatch
        self.replaceExisting = replaceExisting
    }

    /// The families that get a table: IPv4 always, IPv6 when some port has an IPv6 ClusterIP.
    public func families(for ports: [ProxyServicePort]) -> [IPAddress.Family] {
        let v6 = ports.contains { $0.clusterIPs.contains { $0.family == .ipv6 } }
        return v6 ? [.ipv4, .ipv6] : [.ipv4]
    }

    /// kube-proxy's transaction for a full sync, one statement per line in kube-proxy's spelling
    /// (declarations, then rules, then elements, each element in its own `add element`). Load it
    /// with one `nft -f`; compare it line by line with upstream test expectations.
    public func transaction(for ports: [ProxyServicePort]) -> String {
        let scripts = families(for: ports).map { script(family: $0, ports: ports) }
        var lines: [String] = []
        for s in scripts { lines += s.declarations }
        for s in scripts { lines += s.rules }
        for s in scripts { lines += s.mapRules }
        for s in scripts { lines += s.elementStatements(perStatement: 1) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The same ruleset as ``transaction(for:)``, as `nft -f` inputs to apply in order, in four
    /// groups: (1) tables, chains, sets and maps; (2) rules without maps; (3) rules with verdict
    /// maps or numgen maps; (4) set and map elements, `elementsPerStatement` per statement. A
    /// group longer than `statementsPerBatch` statements is split into several batches; empty
    /// groups are left out. Several smaller transactions load much faster than one huge one; the
    /// final kernel state is the same.
    public func batches(for ports: [ProxyServicePort]) -> [String] {
        let scripts = families(for: ports).map { script(family: $0, ports: ports) }
        var declarations: [String] = []
        if replaceExisting {
            for family in families(for: ports) {
                let t = "\(family == .ipv4 ? "ip" : "ip6") \(NFTablesNames.table)"
                declarations += ["add table \(t)", "delete table \(t)"]
            }
        }
        var groups: [[String]] = [declarations, [], [], []]
        for s in scripts {
            groups[0] += s.declarations
            groups[1] += s.rules
            groups[2] += s.mapRules
            groups[3] += s.elementStatements(perStatement: elementsPerStatement)
        }
        var batches: [String] = []
        for group in groups where !group.isEmpty {
            let size = max(1, statementsPerBatch ?? group.count)
            var start = 0
            while start < group.count {
                let end = min(start + size, group.count)
                batches.append(group[start..<end].joined(separator: "\n") + "\n")
                start = end
            }
        }
        return batches
    }

    /// Counts of what ``transaction(for:)`` writes, for scale checks and benchmarks.
    public struct Summary: Sendable, Hashable {
        public var declarations: Int
        public var rules: Int
        public var mapRules: Int
        public var elements: Int
    }

    /// Counts declarations, rules and elements over all families.
    public func summary(for ports: [ProxyServicePort]) -> Summary {
        var summary = Summary(declarations: 0, rules: 0, mapRules: 0, elements: 0)
        for family in families(for: ports) {
            let s = script(family: family, ports: ports)
            summary.declarations += s.declarations.count
            summary.rules += s.rules.count
            summary.mapRules += s.mapRules.count
            summary.elements += s.elementCount
        }
        return summary
    }
}
