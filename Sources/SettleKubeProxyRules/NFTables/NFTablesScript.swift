/// The statements of one `nft -f` transaction, kept in the four groups ``NFTablesRuleWriter``
/// emits as separate batches.
///
/// Rules of one chain keep their relative order across the two rule groups because in every
/// kube-proxy chain the plain rules come before the rules with verdict maps or numgen maps
/// (checked by ``NFTablesRuleWriter`` tests).
struct NFTablesScript: Sendable {
    /// `add table`, `add chain`, `add set`, `add map`.
    var declarations: [String] = []
    /// `add rule` without any map.
    var rules: [String] = []
    /// `add rule` with a `vmap` or a `numgen … map`.
    var mapRules: [String] = []
    /// Elements, grouped by the `add element <family> <table> <name>` head they belong to.
    var elementHeads: [String] = []
    var elementBodies: [[String]] = []
    private var headIndex: [String: Int] = [:]

    mutating func addElement(head: String, _ body: String) {
        if let index = headIndex[head] {
            elementBodies[index].append(body)
        } else {
            headIndex[head] = elementHeads.count
            elementHeads.append(head)
            elementBodies.append([body])
        }
    }

    /// Element statements, `perStatement` elements each (1 = kube-proxy's own one-per-line form).
    func elementStatements(perStatement: Int) -> [String] {
        var out: [String] = []
        let size = max(1, perStatement)
        for (head, bodies) in zip(elementHeads, elementBodies) {
            var start = 0
            while start < bodies.count {
                let end = min(start + size, bodies.count)
                out.append(head + " { " + bodies[start..<end].joined(separator: ", ") + " }")
                start = end
            }
        }
        return out
    }

    var elementCount: Int { elementBodies.reduce(0) { $0 + $1.count } }
}
