public import SettleModel

/// A mutable model of kube-proxy's `ip` and `ip6` tables that follows change events and keeps
/// the routed service ports up to date incrementally.
///
/// It holds what interpreting new rules needs (register-level sets, anonymous ones included,
/// with their elements, since ``NFTLowLevelTable/semanticRule(_:sets:)`` inlines anonymous maps)
/// and interpreted rules per chain. Each dispatch entry (an element of `service-ips`,
/// `service-nodeports`, `no-endpoint-services`, `no-endpoint-nodeports`) remembers the chains and
/// named maps its last walk read; after a transaction only the entries whose element, chains,
/// maps or frontend kind (`cluster-ips`, `firewall-ips`) changed are walked again, and only their
/// service ports are merged again (over `ip`+`ip6` and frontends, as
/// ``DataplaneSnapshot/merging(_:)`` does).
///
/// Invariant (tested): after any sequence of changes, ``snapshot()`` equals
/// ``NFTRuleset/kubeProxySnapshot()`` of a fresh full read, and ``servicePorts`` — the
/// incrementally maintained answer — equals its service ports.
///
/// Not thread-safe; owned by one thread (the monitor's).
public struct NFTMirror {
    private var tables: [NFTFamily: MirrorTable] = [:]
    private var entries: [EntryID: EntryState] = [:]
    private var chainIndex: [NameRef: Set<EntryID>] = [:]
    private var setIndex: [NameRef: Set<EntryID>] = [:]
    private var addressIndex: [IPAddress: Set<EntryID>] = [:]
    private var identityIndex: [String: Set<EntryID>] = [:]
    private var merged: [String: RoutedServicePort] = [:]

    /// An empty mirror (no kube-proxy tables).
    public init() {}

    /// A mirror of a full read's kube-proxy tables (other tables are ignored).
    public init(dump: [NFTMirrorTableDump]) {
        for table in dump where Self.isMirrored(table.family, table.name) {
            var t = MirrorTable(family: table.family, name: table.name)
            t.rulesFromDump = true
            for chain in table.chains { t.chains[chain] = [] }
            for (chain, rules) in table.rules {
                t.chains[chain, default: []] = rules.map { MirrorRule(handle: $0.handle, semantic: $0, lowLevel: nil) }
            }
            for set in table.sets { t.addSet(set) }
            t.recomputeFrontendSets()
            tables[table.family] = t
        }
        _ = rewalk(Set(allCurrentEntries()))
    }

    /// The incrementally maintained answer: every service port, merged, sorted.
    public var servicePorts: [RoutedServicePort] { merged.values.sorted() }

    /// Whether kube-proxy's table of `family` is mirrored (exists).
    public func hasTable(_ family: NFTFamily) -> Bool { tables[family] != nil }

    /// The whole mirror walked from scratch, exactly as ``NFTRuleset/kubeProxySnapshot()`` walks a
    /// full read (same service ports, same warnings in the same order).
    public func snapshot() -> DataplaneSnapshot {
        var ports: [RoutedServicePort] = []
        var warnings: [String] = []
        for family in [NFTFamily.ip, .ip6] {
            guard let table = tables[family] else { continue }
            var walker = KubeProxyTableWalker(source: table)
            ports += walker.servicePorts()
            warnings += walker.warnings
        }
        return DataplaneSnapshot(mode: .nftables, servicePorts: DataplaneSnapshot.merging(ports), warnings: warnings)
    }

    static func isMirrored(_ family: NFTFamily, _ table: String) -> Bool {
        (family == .ip || family == .ip6) && table == NFTRuleset.kubeProxyTable
    }

    // MARK: Applying a transaction

    /// Applies one committed transaction's changes, in order, and walks again only what they can
    /// affect.
    public mutating func apply(_ changes: [NFTChange]) -> NFTMirrorUpdate {
        var update = NFTMirrorUpdate()
        var dirty = Set<EntryID>()
        var dirtyChains = Set<NameRef>()
        var dirtySets = Set<NameRef>()
        var touchedAddresses = Set<IPAddress>()
        var changedDataMaps = Set<NameRef>()
        var pendingChains = Set<NameRef>()

        func inconsistent(_ what: String) { update.inconsistencies.append(what) }

        for change in changes {
            let family = change.family
            guard Self.isMirrored(family, change.table) else { continue }
            let here = "table \(family.name) \(change.table)"
            switch change {
            case .newTable:
                if tables[family] == nil { tables[family] = MirrorTable(family: family, name: change.table) }
            case .delTable:
                guard tables.removeValue(forKey: family) != nil else { continue }
                dirty.formUnion(entries.keys.filter { $0.family == family })
            case .newChain(_, _, let chain):
                guard tables[family] != nil else { inconsistent("\(here): chain \(chain) added to an unknown table"); continue }
                if tables[family]!.chains[chain] == nil {
                    tables[family]!.chains[chain] = []
                    dirtyChains.insert(NameRef(family: family, name: chain))
                }
            case .delChain(_, _, let chain):
                guard tables[family]?.chains.removeValue(forKey: chain) != nil else { continue }
                dirtyChains.insert(NameRef(family: family, name: chain))
            case .newRule(_, _, let rule, let after):
                guard tables[family]?.chains[rule.chain] != nil else {
                    inconsistent("\(here): rule \(rule.handle) added to unknown chain \(rule.chain)")
                    continue
                }
                tables[family]!.insertRule(rule, after: after)
                let ref = NameRef(family: family, name: rule.chain)
                dirtyChains.insert(ref)
                pendingChains.insert(ref)
            case .delRule(_, _, let chain, let handle):
                guard tables[family]?.removeRule(chain: chain, handle: handle) == true else { continue }
                dirtyChains.insert(NameRef(family: family, name: chain))
            case .newSet(_, _, let set):
                guard tables[family] != nil else { inconsistent("\(here): set \(set.name) added to an unknown table"); continue }
                // kube-proxy re-adds its maps every sync (`add map …`), and the kernel reports each
                // as NEWSET: an unchanged set keeps its entries, only given elements count.
                let unchanged = tables[family]!.sets[set.name].map { $0.meta.sameShape(as: set) } ?? false
                tables[family]!.addSet(set)
                if unchanged {
                    if !set.elements.isEmpty {
                        for element in set.elements {
                            if let map = KubeProxyDispatchMap(rawValue: set.name) { dirty.insert(EntryID(family: family, map: map, key: ElementKey(element))) }
                        }
                        setTouched(set.name, family: family, whole: false, elements: set.elements)
                    }
                } else {
                    setTouched(set.name, family: family, whole: true)
                }
            case .delSet(_, _, let name):
                guard tables[family]?.sets.removeValue(forKey: name) != nil else { continue }
                setTouched(name, family: family, whole: true)
            case .newElements(_, _, let name, let elements), .delElements(_, _, let name, let elements):
                let adding: Bool
                if case .newElements = change { adding = true } else { adding = false }
                guard tables[family]?.sets[name] != nil else {
                    if adding { inconsistent("\(here): elements added to unknown set \(name)") }
                    continue
                }
                if !adding && elements.isEmpty {
                    // A flush without per-element events: elements unknown, so this is not a delta.
                    inconsistent("\(here): set \(name) flushed without its elements")
                    continue
                }
                for element in elements {
                    let key = ElementKey(element)
                    if adding {
                        tables[family]!.sets[name]!.elements[key] = element
                    } else {
                        tables[family]!.sets[name]!.elements.removeValue(forKey: key)
                    }
                    if let map = KubeProxyDispatchMap(rawValue: name) {
                        dirty.insert(EntryID(family: family, map: map, key: key))
                    }
                }
                setTouched(name, family: family, whole: false, elements: elements)
            }
        }

        // Rules arrive before or after the anonymous sets they use within a transaction; interpret
        // new rules once the whole transaction is applied.
        for ref in pendingChains {
            guard tables[ref.family]?.chains[ref.name] != nil else { continue }
            for problem in tables[ref.family]!.interpretPending(chain: ref.name) {
                inconsistent("table \(ref.family.name) kube-proxy: \(problem)")
            }
        }
        // Rules that take DNAT targets from a named map inline its elements: interpret them again.
        for ref in changedDataMaps {
            guard tables[ref.family] != nil else { continue }
            let (chains, problems) = tables[ref.family]!.reinterpretRules(using: ref.name)
            for chain in chains { dirtyChains.insert(NameRef(family: ref.family, name: chain)) }
            for problem in problems { inconsistent("table \(ref.family.name) kube-proxy: \(problem)") }
        }

        for ref in dirtyChains { dirty.formUnion(chainIndex[ref] ?? []) }
        for ref in dirtySets { dirty.formUnion(setIndex[ref] ?? []) }
        for address in touchedAddresses { dirty.formUnion(addressIndex[address] ?? []) }

        let (changed, warnings) = rewalk(dirty)
        update.changed = changed
        update.warnings = warnings
        update.entriesWalked = dirty.count
        return update

        func setTouched(_ name: String, family: NFTFamily, whole: Bool, elements: [NFTLowLevelElement] = []) {
            let ref = NameRef(family: family, name: name)
            dirtySets.insert(ref)
            if let map = KubeProxyDispatchMap(rawValue: name), whole {
                // The map itself appeared or went: every entry it had or has now.
                dirty.formUnion(entries.keys.filter { $0.family == family && $0.map == map })
                if let set = tables[family]?.sets[name] {
                    for key in set.elements.keys { dirty.insert(EntryID(family: family, map: map, key: key)) }
                }
            }
            if name == "cluster-ips" || name == "firewall-ips" {
                if whole {
                    tables[family]?.recomputeFrontendSets()
                    dirty.formUnion(entries.keys.filter { $0.family == family && $0.map.keyHasAddress })
                } else if tables[family] != nil {
                    for address in tables[family]!.updateFrontendSets(name, elements: elements) { touchedAddresses.insert(address) }
                }
            }
            if let set = tables[family]?.sets[name], !set.meta.isAnonymous, set.meta.isMap, !set.meta.isVerdictMap {
                changedDataMaps.insert(ref)
            }
        }
    }

    // MARK: Walking entries

    private func allCurrentEntries() -> [EntryID] {
        var out: [EntryID] = []
        for (family, table) in tables {
            for map in KubeProxyDispatchMap.allCases {
                guard let set = table.sets[map.rawValue] else { continue }
                for key in set.elements.keys { out.append(EntryID(family: family, map: map, key: key)) }
            }
        }
        return out
    }

    /// Walks `ids` again against the current tables, updates the indexes and the merged answer,
    /// and returns the service ports whose merged value changed.
    private mutating func rewalk(_ ids: Set<EntryID>) -> (changed: [String: RoutedServicePort?], warnings: [String]) {
        var affected = Set<String>()
        var walkers: [NFTFamily: KubeProxyTableWalker<MirrorTable>] = [:]
        // Walk in a stable order so warnings come out in the same order for the same input.
        for id in ids.sorted() {
            if let old = entries.removeValue(forKey: id) { unindex(id, old, affected: &affected) }
            guard let table = tables[id.family], let set = table.sets[id.map.rawValue], let raw = set.elements[id.key],
                let element = set.decoded(raw)
            else { continue }
            if walkers[id.family] == nil {
                var walker = KubeProxyTableWalker(source: table)
                walker.recordDependencies = true
                walkers[id.family] = walker
            }
            let entry = walkers[id.family]!.entry(element, in: id.map)
            var state = EntryState(port: entry?.port, chains: entry?.chains ?? [], sets: entry?.sets ?? [], address: nil)
            if id.map.keyHasAddress, case .address(let ip)? = element.key.first { state.address = ip }
            entries[id] = state
            index(id, state, affected: &affected)
        }
        var changed: [String: RoutedServicePort?] = [:]
        for identity in affected {
            let ports = (identityIndex[identity] ?? []).compactMap { entries[$0]?.port }
            let now = DataplaneSnapshot.merging(ports).first
            if merged[identity] != now {
                merged[identity] = now
                changed[identity] = .some(now)
            }
        }
        var warnings: [String] = []
        for family in [NFTFamily.ip, .ip6] { warnings += walkers[family]?.warnings ?? [] }
        return (changed, warnings)
    }

    private mutating func index(_ id: EntryID, _ state: EntryState, affected: inout Set<String>) {
        for chain in state.chains { chainIndex[NameRef(family: id.family, name: chain), default: []].insert(id) }
        for set in state.sets { setIndex[NameRef(family: id.family, name: set), default: []].insert(id) }
        if let address = state.address { addressIndex[address, default: []].insert(id) }
        if let port = state.port {
            identityIndex[port.identity, default: []].insert(id)
            affected.insert(port.identity)
        }
    }

    private mutating func unindex(_ id: EntryID, _ state: EntryState, affected: inout Set<String>) {
        func remove<K: Hashable>(_ key: K, from index: inout [K: Set<EntryID>]) {
            guard var ids = index[key] else { return }
            ids.remove(id)
            index[key] = ids.isEmpty ? nil : ids
        }
        for chain in state.chains { remove(NameRef(family: id.family, name: chain), from: &chainIndex) }
        for set in state.sets { remove(NameRef(family: id.family, name: set), from: &setIndex) }
        if let address = state.address { remove(address, from: &addressIndex) }
        if let port = state.port {
            remove(port.identity, from: &identityIndex)
            affected.insert(port.identity)
        }
    }
}

// MARK: - Internal state

/// A chain or set name within one family's kube-proxy table.
struct NameRef: Hashable {
    var family: NFTFamily
    var name: String
}

/// An element's identity in its set: key bytes, and whether it is an interval end (an interval
/// set can hold an end and a start with the same key).
struct ElementKey: Hashable, Comparable {
    var key: [UInt8]
    var intervalEnd: Bool

    init(_ element: NFTLowLevelElement) {
        key = element.key
        intervalEnd = element.flags & 1 != 0
    }

    static func < (a: ElementKey, b: ElementKey) -> Bool {
        a.key == b.key ? !a.intervalEnd && b.intervalEnd : a.key.lexicographicallyPrecedes(b.key)
    }
}

struct EntryID: Hashable, Comparable {
    var family: NFTFamily
    var map: KubeProxyDispatchMap
    var key: ElementKey

    private var mapRank: Int { KubeProxyDispatchMap.allCases.firstIndex(of: map)! }

    static func < (a: EntryID, b: EntryID) -> Bool {
        if a.family != b.family { return a.family < b.family }
        if a.map != b.map { return a.mapRank < b.mapRank }
        return a.key < b.key
    }
}

struct EntryState {
    var port: RoutedServicePort?
    var chains: Set<String>
    var sets: Set<String>
    /// The frontend address of `service-ips`/`no-endpoint-services` keys, whose kind
    /// `cluster-ips`/`firewall-ips` decide.
    var address: IPAddress?
}

struct MirrorRule {
    var handle: UInt64
    /// `nil` until the transaction that added the rule is fully applied.
    var semantic: NFTRule?
    /// Kept only while pending, or when the rule takes DNAT targets from a named data map (its
    /// interpretation then depends on that map's elements).
    var lowLevel: NFTLowLevelRule?
}

extension NFTLowLevelSet {
    /// Same kind, key and data types: what interpretation depends on (elements aside).
    func sameShape(as other: NFTLowLevelSet) -> Bool {
        let kind = Self.anonymousFlag | Self.intervalFlag | Self.mapFlag
        return flags & kind == other.flags & kind && keyType == other.keyType && keyLength == other.keyLength
            && dataType == other.dataType && dataLength == other.dataLength && keyByteOrder == other.keyByteOrder
    }
}

struct MirrorSet {
    /// Metadata; `elements` left empty (they live in ``elements``).
    var meta: NFTLowLevelSet
    var elements: [ElementKey: NFTLowLevelElement]

    var lowLevel: NFTLowLevelSet {
        var set = meta
        set.elements = Array(elements.values)
        return set
    }

    /// One element typed as ``NFTLowLevelSet/decodedElements()`` types it; `nil` for interval ends.
    func decoded(_ element: NFTLowLevelElement) -> NFTElement? {
        var one = meta
        one.elements = [element]
        return one.decodedElements().first
    }
}

struct MirrorTable: KubeProxyWalkSource {
    var family: NFTFamily
    var name: String
    var chains: [String: [MirrorRule]] = [:]
    var sets: [String: MirrorSet] = [:]
    /// Rules came from a full read, interpreted without their register-level form: rules that
    /// take DNAT targets from a named data map cannot be told apart, nor interpreted again.
    var rulesFromDump = false
    var kubeProxyClusterIPs: Set<IPAddress> = []
    var kubeProxyFirewallKeys: Set<[NFTAtom]> = []

    init(family: NFTFamily, name: String) {
        self.family = family
        self.name = name
    }

    func rules(ofChain chain: String) -> [NFTRule]? { chains[chain].map { $0.compactMap(\.semantic) } }

    func namedSet(_ name: String) -> NFTSet? {
        guard let set = sets[name], !set.meta.isAnonymous else { return nil }
        return NFTSet(name: name, isMap: set.meta.isMap, elements: set.meta.isInterval ? nil : set.lowLevel.decodedElements())
    }

    mutating func addSet(_ set: NFTLowLevelSet) {
        var meta = set
        meta.elements = []
        var elements = sets[set.name]?.elements ?? [:]
        for element in set.elements { elements[ElementKey(element)] = element }
        sets[set.name] = MirrorSet(meta: meta, elements: elements)
    }

    mutating func recomputeFrontendSets() {
        kubeProxyClusterIPs = []
        kubeProxyFirewallKeys = []
        for element in namedSet("cluster-ips")?.elements ?? [] {
            if case .address(let ip)? = element.key.first { kubeProxyClusterIPs.insert(ip) }
        }
        kubeProxyFirewallKeys = Set((namedSet("firewall-ips")?.elements ?? []).map(\.key))
    }

    /// Updates `cluster-ips` / `firewall-ips` membership for the changed elements; returns the
    /// frontend addresses whose kind may have changed.
    mutating func updateFrontendSets(_ setName: String, elements: [NFTLowLevelElement]) -> [IPAddress] {
        guard let set = sets[setName] else { return [] }
        var addresses: [IPAddress] = []
        for element in elements {
            guard let decoded = set.decoded(element) else { continue }
            let present = !set.meta.isInterval && !set.meta.isAnonymous && set.elements[ElementKey(element)] != nil
            if case .address(let ip)? = decoded.key.first { addresses.append(ip) }
            if setName == "cluster-ips" {
                guard case .address(let ip)? = decoded.key.first else { continue }
                // Two elements cannot share an address key, so membership follows this element.
                if present { kubeProxyClusterIPs.insert(ip) } else { kubeProxyClusterIPs.remove(ip) }
            } else {
                if present { kubeProxyFirewallKeys.insert(decoded.key) } else { kubeProxyFirewallKeys.remove(decoded.key) }
            }
        }
        return addresses
    }

    mutating func insertRule(_ rule: NFTLowLevelRule, after: UInt64?) {
        let entry = MirrorRule(handle: rule.handle, semantic: nil, lowLevel: rule)
        var rules = chains[rule.chain] ?? []
        chains[rule.chain] = nil  // keep the array uniquely referenced while editing
        rules.removeAll { $0.handle == rule.handle }
        if after == 0 {
            rules.insert(entry, at: 0)
        } else if let after, let index = rules.firstIndex(where: { $0.handle == after }) {
            rules.insert(entry, at: index + 1)
        } else {
            rules.append(entry)
        }
        chains[rule.chain] = rules
    }

    mutating func removeRule(chain: String, handle: UInt64) -> Bool {
        guard let index = chains[chain]?.firstIndex(where: { $0.handle == handle }) else { return false }
        chains[chain]!.remove(at: index)
        return true
    }

    /// The register-level sets `rule` looks up, by name; `nil` when one is unknown.
    private func sets(for rule: NFTLowLevelRule) -> [String: NFTLowLevelSet]? {
        var out: [String: NFTLowLevelSet] = [:]
        for case .lookup(let name, _, let dreg, _) in rule.expressions {
            guard let set = sets[name] else { return nil }
            // Elements matter only where interpretation inlines them: anonymous maps and data
            // maps. A named verdict map (`vmap @service-ips`) or a membership test needs none, and
            // copying 10k elements for it would cost milliseconds.
            if set.meta.isAnonymous || (dreg != nil && dreg != 0) {
                out[name] = set.lowLevel
            } else {
                out[name] = set.meta
            }
        }
        return out
    }

    /// Whether the rule takes register values from a named (non-anonymous) data map.
    private func usesNamedDataMap(_ rule: NFTLowLevelRule) -> Bool {
        rule.expressions.contains {
            guard case .lookup(let name, _, let dreg?, _) = $0, dreg != 0, let set = sets[name] else { return false }
            return !set.meta.isAnonymous
        }
    }

    /// Interprets the chain's rules added by this transaction; returns problems.
    mutating func interpretPending(chain: String) -> [String] {
        guard var rules = chains[chain] else { return [] }
        chains[chain] = nil
        var problems: [String] = []
        for i in rules.indices where rules[i].semantic == nil {
            guard let lowLevel = rules[i].lowLevel else { continue }
            guard let used = sets(for: lowLevel) else {
                problems.append("rule \(lowLevel.handle) in chain \(chain) looks up a set the mirror does not have")
                rules[i].semantic = NFTRule(handle: lowLevel.handle, statements: [])
                continue
            }
            rules[i].semantic = NFTLowLevelTable.semanticRule(lowLevel, sets: used)
            if !usesNamedDataMap(lowLevel) { rules[i].lowLevel = nil }
        }
        chains[chain] = rules
        return problems
    }

    /// Interprets again the rules that take values from named map `setName`; returns the chains
    /// changed, and problems (rules from a full read cannot be interpreted again).
    mutating func reinterpretRules(using setName: String) -> (chains: [String], problems: [String]) {
        var changedChains: [String] = []
        var problems: [String] = []
        if rulesFromDump {
            problems.append("named data map \(setName) changed; rules read by a full read cannot be interpreted again")
        }
        for (chain, rules) in chains {
            var rules = rules
            var touched = false
            for i in rules.indices {
                guard let lowLevel = rules[i].lowLevel,
                    lowLevel.expressions.contains(where: { if case .lookup(setName, _, _, _) = $0 { true } else { false } }),
                    let used = sets(for: lowLevel)
                else { continue }
                rules[i].semantic = NFTLowLevelTable.semanticRule(lowLevel, sets: used)
                touched = true
            }
            if touched {
                chains[chain] = rules
                changedChains.append(chain)
            }
        }
        return (changedChains, problems)
    }
}
