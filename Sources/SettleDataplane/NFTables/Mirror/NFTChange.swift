public import SettleModel

/// One change to an nftables table, as a committed transaction's netlink events report it
/// (`NFT_MSG_NEW*` / `NFT_MSG_DEL*`). ``NFTMirror`` applies them; changes to tables other than
/// `ip`/`ip6 kube-proxy` are ignored there.
public enum NFTChange: Hashable, Sendable {
    case newTable(family: NFTFamily, table: String)
    case delTable(family: NFTFamily, table: String)
    case newChain(family: NFTFamily, table: String, chain: String)
    case delChain(family: NFTFamily, table: String, chain: String)
    /// A rule added to `rule.chain`. `after` is the handle of the rule it follows (netlink
    /// `NFTA_RULE_POSITION`), `0` puts it first (handles start at 1), `nil` appends it (also when
    /// `after` names no rule). Rule order changes only the order of warnings.
    case newRule(family: NFTFamily, table: String, rule: NFTLowLevelRule, after: UInt64? = nil)
    case delRule(family: NFTFamily, table: String, chain: String, handle: UInt64)
    /// A set or map created (or its metadata updated); elements in `set.elements` are added too.
    case newSet(family: NFTFamily, table: String, set: NFTLowLevelSet)
    case delSet(family: NFTFamily, table: String, set: String)
    case newElements(family: NFTFamily, table: String, set: String, elements: [NFTLowLevelElement])
    /// Elements removed, identified by key (and interval-end flag).
    case delElements(family: NFTFamily, table: String, set: String, elements: [NFTLowLevelElement])

    public var family: NFTFamily {
        switch self {
        case .newTable(let f, _), .delTable(let f, _), .newChain(let f, _, _), .delChain(let f, _, _), .newRule(let f, _, _, _),
            .delRule(let f, _, _, _), .newSet(let f, _, _), .delSet(let f, _, _), .newElements(let f, _, _, _),
            .delElements(let f, _, _, _):
            f
        }
    }

    public var table: String {
        switch self {
        case .newTable(_, let t), .delTable(_, let t), .newChain(_, let t, _), .delChain(_, let t, _), .newRule(_, let t, _, _),
            .delRule(_, let t, _, _), .newSet(_, let t, _), .delSet(_, let t, _), .newElements(_, let t, _, _),
            .delElements(_, let t, _, _):
            t
        }
    }

    /// The changes that build `table` from nothing: the table, its chains, its sets with their
    /// elements, then its rules in order. Lets a mirror start from a register-level table.
    public static func creating(_ table: NFTLowLevelTable) -> [NFTChange] {
        var out: [NFTChange] = [.newTable(family: table.family, table: table.name)]
        var chains = table.chains
        for rule in table.rules where !chains.contains(rule.chain) { chains.append(rule.chain) }
        out += chains.map { .newChain(family: table.family, table: table.name, chain: $0) }
        out += table.sets.map { .newSet(family: table.family, table: table.name, set: $0) }
        out += table.rules.map { .newRule(family: table.family, table: table.name, rule: $0) }
        return out
    }
}

/// One kube-proxy table as a full read returns it for a mirror: register-level sets (named and
/// anonymous, with elements) and interpreted rules per chain.
public struct NFTMirrorTableDump: Sendable {
    public var family: NFTFamily
    public var name: String
    public var chains: [String]
    public var sets: [NFTLowLevelSet]
    /// Rules by chain, in chain order.
    public var rules: [String: [NFTRule]]

    public init(family: NFTFamily, name: String, chains: [String], sets: [NFTLowLevelSet], rules: [String: [NFTRule]]) {
        self.family = family
        self.name = name
        self.chains = chains
        self.sets = sets
        self.rules = rules
    }

    /// The interpreted table the same read gives to ``NFTRuleset/kubeProxySnapshot()``.
    public var semantic: NFTTable {
        var table = NFTLowLevelTable(family: family, name: name, chains: chains, sets: sets).semantic()
        for (chain, rules) in rules { table.chains[chain, default: NFTChain(name: chain)].rules = rules }
        return table
    }
}

/// What applying one transaction changed.
public struct NFTMirrorUpdate: Hashable, Sendable {
    /// Service ports whose merged routing differs from before, by ``RoutedServicePort/identity``;
    /// `nil`: the service port is no longer in the dataplane.
    public var changed: [String: RoutedServicePort?]
    /// Warnings of the entries walked again (the same sentences a full read gives for them).
    public var warnings: [String]
    /// Changes the mirror could not apply consistently (a rule in an unknown chain, an element of
    /// an unknown set, …). When not empty, the mirror may be wrong: read everything again.
    public var inconsistencies: [String]
    /// How many dispatch entries were walked again.
    public var entriesWalked: Int

    public init(changed: [String: RoutedServicePort?] = [:], warnings: [String] = [], inconsistencies: [String] = [], entriesWalked: Int = 0) {
        self.changed = changed
        self.warnings = warnings
        self.inconsistencies = inconsistencies
        self.entriesWalked = entriesWalked
    }
}
