/// A parsed `iptables-save` / `ip6tables-save` dump: one or more tables.
///
/// The parser is total: a line it cannot read is skipped and named in ``warnings``, and the rest of the
/// dump is still used (brief §5: bad input is skipped, never a crash). Several dumps may be concatenated
/// (the live reader runs `-t nat` and `-t filter` separately); a table seen twice has its chains merged.
public struct IPTablesSave: Hashable, Sendable {
    /// Tables by name (`nat`, `filter`, …).
    public var tables: [String: IPTablesTable]
    /// Lines that were skipped, one sentence each.
    public var warnings: [String]

    public init(tables: [String: IPTablesTable] = [:], warnings: [String] = []) {
        self.tables = tables
        self.warnings = warnings
    }

    /// The table named `name`, if the dump has it.
    public subscript(table name: String) -> IPTablesTable? { tables[name] }

    /// Whether any table declares `chain`; used to tell which backend holds kube-proxy's rules.
    public func containsChain(_ chain: String) -> Bool { tables.values.contains { $0.hasChain(chain) } }

    /// Parses `iptables-save` output (`# comments`, `*table`, `:CHAIN POLICY [p:b]`, `-A CHAIN …`, `COMMIT`).
    public init(parsing text: some StringProtocol) {
        var tables: [String: IPTablesTable] = [:]
        var warnings: [String] = []
        var current: IPTablesTable?
        var lineNumber = 0

        func finish() {
            if let table = current { tables[table.name] = table }
            current = nil
        }

        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("*") {
                finish()
                let name = String(line.dropFirst())
                current = tables[name] ?? IPTablesTable(name: name)
                continue
            }
            if line == "COMMIT" {
                finish()
                continue
            }
            guard current != nil else {
                warnings.append("iptables-save line \(lineNumber) outside any table skipped: \(line)")
                continue
            }
            if line.hasPrefix(":") {
                let words = line.dropFirst().split(separator: " ")
                guard let name = words.first else {
                    warnings.append("iptables-save line \(lineNumber): empty chain declaration skipped")
                    continue
                }
                let chain = String(name)
                if current!.rules[chain] == nil {
                    current!.chains.append(chain)
                    current!.rules[chain] = []
                }
                current!.policies[chain] = words.count > 1 ? String(words[1]) : "-"
                continue
            }
            if line.hasPrefix("-A ") || line.hasPrefix("--append ") {
                guard let tokens = IPTablesTokenizer.tokenize(line), tokens.count >= 2,
                    let rule = IPTablesRule(tokens: Array(tokens.dropFirst()), text: String(line))
                else {
                    warnings.append("iptables-save line \(lineNumber) could not be parsed, skipped: \(line)")
                    continue
                }
                if current!.rules[rule.chain] == nil {
                    // iptables-save always declares chains first; tolerate a dump that does not.
                    current!.chains.append(rule.chain)
                    current!.rules[rule.chain] = []
                }
                current!.rules[rule.chain]!.append(rule)
                continue
            }
            warnings.append("iptables-save line \(lineNumber) not understood, skipped: \(line)")
        }
        finish()
        self.init(tables: tables, warnings: warnings)
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}
