/// One table (`*nat`, `*filter`, …) of an `iptables-save` dump: its chains in declaration order and
/// the rules of each chain in order.
public struct IPTablesTable: Hashable, Sendable {
    /// `nat`, `filter`, `mangle`, `raw`, `security`.
    public var name: String
    /// Chain names as declared (`:NAME POLICY [p:b]`), in order.
    public var chains: [String]
    /// The policy of built-in chains (`ACCEPT`, `DROP`); `-` for user chains.
    public var policies: [String: String]
    /// Rules of each chain, in order. A declared chain without rules maps to `[]`.
    public var rules: [String: [IPTablesRule]]

    public init(name: String, chains: [String] = [], policies: [String: String] = [:], rules: [String: [IPTablesRule]] = [:]) {
        self.name = name
        self.chains = chains
        self.policies = policies
        self.rules = rules
    }

    /// Whether the chain is declared (a jump to an undeclared chain cannot be restored, so the walker
    /// warns about it).
    public func hasChain(_ chain: String) -> Bool { rules[chain] != nil }

    /// The rules of `chain`, `[]` for an unknown chain.
    public func rules(of chain: String) -> [IPTablesRule] { rules[chain] ?? [] }
}
