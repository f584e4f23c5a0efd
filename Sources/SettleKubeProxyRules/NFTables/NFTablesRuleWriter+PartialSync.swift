extension NFTablesRuleWriter {
    /// The `nft -f` inputs with which kube-proxy's partial sync moves a node from `old` to `new`.
    ///
    /// kube-proxy does not reload its table on every change: it adds new chains and maps, flushes
    /// and refills the chains whose rules changed, deletes and adds the map elements that changed,
    /// and flushes chains that are no longer used — deleting them only in a later sync
    /// (KK `pkg/proxy/nftables/proxier.go`, `syncProxyRules`, `staleChains`). `update` is that one
    /// transaction; `cleanup` (when chains went away) is the later deletion. The result of loading
    /// both over a node holding ``transaction(for:)`` of `old` is the ruleset of `new`. Tests, the
    /// agent benchmark and the lab use it to change rules the way a real kube-proxy does, so the
    /// agent sees kube-proxy's own netlink events.
    public func partialSync(from old: [ProxyServicePort], to new: [ProxyServicePort]) -> (update: String, cleanup: String?) {
        let before = Script(transaction(for: old))
        let after = Script(transaction(for: new))
        var lines: [String] = []
        lines += after.declarations.filter { !before.declarationSet.contains($0) }
        // Element deletions first: a changed element (same key, new verdict) is deleted and re-added.
        for (key, element) in before.elements.sorted(by: { $0.key < $1.key }) where after.elements[key] != element {
            lines.append("delete element \(key.family) \(key.table) \(key.set) { \(key.element) }")
        }
        for chain in after.chainOrder where after.rules[chain] != before.rules[chain] {
            if before.rules[chain] != nil || before.chains.contains(chain) {
                lines.append("flush chain \(chain.family) \(chain.table) \(chain.name)")
            }
            lines += after.rules[chain] ?? []
        }
        let removedChains = before.chainOrder.filter { !after.chains.contains($0) }
        for chain in removedChains {
            lines.append("flush chain \(chain.family) \(chain.table) \(chain.name)")
        }
        for (key, element) in after.elements.sorted(by: { $0.key < $1.key }) where before.elements[key] != element {
            lines.append(element)
        }
        let cleanup = removedChains.map { "delete chain \($0.family) \($0.table) \($0.name)" }
        return (lines.joined(separator: "\n") + "\n", cleanup.isEmpty ? nil : cleanup.joined(separator: "\n") + "\n")
    }
}

/// A full-sync transaction split into what a partial sync compares.
private struct Script {
    struct Chain: Hashable, Comparable {
        var family: Substring
        var table: Substring
        var name: Substring
        static func < (a: Chain, b: Chain) -> Bool { (a.family, a.table, a.name) < (b.family, b.table, b.name) }
    }

    struct ElementKey: Hashable, Comparable {
        var family: Substring
        var table: Substring
        var set: Substring
        /// The element's key as written (`172.30.0.1 . tcp . 80`), without comment or value.
        var element: Substring
        static func < (a: ElementKey, b: ElementKey) -> Bool {
            (a.family, a.table, a.set, a.element) < (b.family, b.table, b.set, b.element)
        }
    }

    var declarations: [String] = []
    var declarationSet: Set<String> = []
    var chains: Set<Chain> = []
    var chainOrder: [Chain] = []
    /// Each chain's `add rule` lines, in order.
    var rules: [Chain: [String]] = [:]
    /// Each element's full `add element` line, by key.
    var elements: [ElementKey: String] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", maxSplits: 5)
            guard words.count >= 4, words[0] == "add" else { continue }
            let chain = Chain(family: words[2], table: words[3], name: words.count > 4 ? words[4] : "")
            switch words[1] {
            case "rule":
                if rules[chain] == nil, !chains.contains(chain) { chainOrder.append(chain) }
                rules[chain, default: []].append(String(line))
            case "element":
                guard words.count > 4, let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") else { continue }
                var body = line[line.index(after: open)..<close]
                if let colon = body.firstRange(of: " : ") { body = body[..<colon.lowerBound] }
                if let comment = body.firstRange(of: " comment ") { body = body[..<comment.lowerBound] }
                let key = ElementKey(
                    family: words[2], table: words[3], set: words[4], element: body.trimmingSpaces)
                elements[key] = String(line)
            default:
                declarations.append(String(line))
                declarationSet.insert(String(line))
                if words[1] == "chain", !chains.contains(chain) {
                    chains.insert(chain)
                    if rules[chain] == nil { chainOrder.append(chain) }
                }
            }
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
