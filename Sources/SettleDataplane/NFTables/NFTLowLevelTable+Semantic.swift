import SettleModel

extension NFTLowLevelTable {
    /// Interprets the register-level rules into ``NFTTable``'s statements.
    ///
    /// Registers are tracked within each rule (nft never carries values across rules): an
    /// `immediate` fills registers with literal bytes, `numgen` with a random bucket, a data-map
    /// `lookup` with a reference to the map's values; a `nat` statement then reads its address and
    /// port registers. Anything read from a source this model does not know becomes
    /// ``NFTStatement/unsupported(_:)`` rather than a guess.
    public func semantic() -> NFTTable {
        var setsByName: [String: NFTLowLevelSet] = [:]
        for set in sets { setsByName[set.name] = set }

        var table = NFTTable(family: family, name: name)
        for chain in chains { table.chains[chain] = NFTChain(name: chain) }
        for set in sets where !set.isAnonymous {
            table.sets[set.name] = NFTSet(name: set.name, isMap: set.isMap, elements: set.isInterval ? nil : set.decodedElements())
        }
        for rule in rules {
            table.chains[rule.chain, default: NFTChain(name: rule.chain)].rules.append(Self.semanticRule(rule, sets: setsByName))
        }
        return table
    }

    /// One rule's statements, given the table's sets (named and anonymous) by name. Lets a reader
    /// interpret rules as they arrive instead of holding every register-level rule in memory.
    public static func semanticRule(_ rule: NFTLowLevelRule, sets: [String: NFTLowLevelSet]) -> NFTRule {
        NFTRule(handle: rule.handle, statements: statements(of: rule, sets: sets))
    }

    private enum Unit {
        case data([UInt8])
        case numgen(modulus: UInt32, offset: UInt32)
        case mapValue(set: String, byteOffset: Int, key: NFTKeyKind)
        case unknown(register: UInt32)
    }

    /// The register file of one rule: 4 verdict units + 16 data units, as 4-byte units.
    private struct Registers {
        private var slots = [Unit?](repeating: nil, count: 24)
        subscript(_ index: Int) -> Unit? {
            get { slots.indices.contains(index) ? slots[index] : nil }
            set { if slots.indices.contains(index) { slots[index] = newValue } }
        }
    }

    /// `NFT_REG_1…4` are 16-byte registers, `NFT_REG32_xx` 4-byte ones over the same storage;
    /// this maps both to 4-byte unit indexes, as the kernel's `nft_parse_register` does.
    static func unit(_ register: UInt32) -> Int {
        register <= 4 ? Int(register) * 4 : Int(register) + 4 - 8
    }

    private static func statements(of rule: NFTLowLevelRule, sets: [String: NFTLowLevelSet]) -> [NFTStatement] {
        var units = Registers()
        var out: [NFTStatement] = []

        func keyKind(_ sreg: UInt32) -> NFTKeyKind {
            if case .numgen(let modulus, let offset) = units[unit(sreg)] { return .numgen(modulus: modulus, offset: offset) }
            return .selector
        }

        for expression in rule.expressions {
            switch expression {
            case .immediateData(let dreg, let data):
                let base = unit(dreg)
                for i in stride(from: 0, to: data.count, by: 4) {
                    units[base + i / 4] = .data(Array(data[i..<min(i + 4, data.count)]))
                }
            case .immediateVerdict(let code, let chain):
                out.append(.verdict(NFTVerdict(code: code, chain: chain)))
            case .numgen(let dreg, let modulus, _, let offset):
                units[unit(dreg)] = .numgen(modulus: modulus, offset: offset)
            case .lookup(let setName, let sreg, let dreg, _):
                guard let dreg else { continue }  // membership test: a condition, not a route
                let kind = keyKind(sreg)
                guard let set = sets[setName] else {
                    out.append(.unsupported("lookup in unknown set \(setName)"))
                    continue
                }
                if dreg == 0 {
                    if set.isAnonymous {
                        out.append(.vmap(key: kind, map: .anonymous(set.decodedElements())))
                    } else {
                        out.append(.vmap(key: kind, map: .named(setName)))
                    }
                } else {
                    let length = Int(set.dataLength ?? 4)
                    let base = unit(dreg)
                    for i in stride(from: 0, to: max(length, 1), by: 4) {
                        units[base + i / 4] = .mapValue(set: setName, byteOffset: i, key: kind)
                    }
                }
            case .nat(let type, let family, let addressRegister, let portRegister):
                guard type == 1 else { continue }  // snat: not a route
                out.append(dnat(family: family, address: addressRegister, port: portRegister, units: units, sets: sets))
            case .other(_, let dreg):
                if let dreg, dreg != 0 {
                    let base = unit(dreg)
                    for i in 0..<4 { units[base + i] = .unknown(register: dreg) }
                }
            }
        }
        return out

        func dnat(family: UInt32, address: UInt32?, port: UInt32?, units: Registers, sets: [String: NFTLowLevelSet]) -> NFTStatement {
            let addressLength = family == 10 ? 16 : 4
            guard let address else { return .unsupported("dnat without an address") }
            let first = unit(address)
            switch units[first] {
            case .data:
                var bytes: [UInt8] = []
                for u in first..<first + addressLength / 4 {
                    guard case .data(let chunk) = units[u] else { return .unsupported("dnat address from a partly unknown register") }
                    bytes += chunk
                }
                guard let ip = IPAddress(bytes: bytes.prefix(addressLength)) else {
                    return .unsupported("dnat address of \(bytes.count) bytes")
                }
                var portValue: Int?
                if let port {
                    guard case .data(let chunk) = units[unit(port)], chunk.count >= 2 else {
                        return .unsupported("dnat port from an unknown register")
                    }
                    portValue = Int(chunk[0]) << 8 | Int(chunk[1])
                }
                return .dnat(.literal(address: ip, port: portValue))
            case .mapValue(let setName, let addressOffset, let key):
                guard let set = sets[setName] else { return .unsupported("dnat map \(setName) not found") }
                var portOffset: Int?
                if let port {
                    guard case .mapValue(let portSet, let offset, _) = units[unit(port)], portSet == setName else {
                        return .unsupported("dnat port not from the address map \(setName)")
                    }
                    portOffset = offset
                }
                let keyType = set.keyType
                var targets: [NFTDNATTarget] = []
                for element in set.elements where element.flags & 1 == 0 {
                    guard let data = element.data, data.count >= addressOffset + addressLength,
                        let ip = IPAddress(bytes: data[addressOffset..<addressOffset + addressLength])
                    else { return .unsupported("dnat map \(setName) element without an address") }
                    var portValue: Int?
                    if let portOffset {
                        guard data.count >= portOffset + 2 else { return .unsupported("dnat map \(setName) element without a port") }
                        portValue = Int(data[portOffset]) << 8 | Int(data[portOffset + 1])
                    }
                    targets.append(NFTDNATTarget(
                        key: NFTDataType.decode(element.key, type: keyType, hostEndianIntegers: set.keyByteOrder != 2),
                        address: ip, port: portValue))
                }
                return .dnat(.map(key: key, targets: targets.sorted(by: NFTDNATTarget.canonicalOrder)))
            case .numgen:
                return .unsupported("dnat address taken straight from numgen")
            case .unknown(let register):
                return .unsupported("dnat address from register \(register), loaded by an unsupported expression")
            case nil:
                return .unsupported("dnat address from an unset register")
            }
        }
    }
}

extension NFTLowLevelSet {
    /// Elements with typed keys and values, interval ends dropped, in canonical order.
    public func decodedElements() -> [NFTElement] {
        var out: [NFTElement] = []
        out.reserveCapacity(elements.count)
        for element in elements where element.flags & 1 == 0 {
            let key = NFTDataType.decode(element.key, type: keyType, hostEndianIntegers: keyByteOrder != 2)
            var value: NFTElementValue?
            if isVerdictMap, let code = element.verdict {
                value = .verdict(NFTVerdict(code: code, chain: element.chain))
            } else if isMap, let data = element.data, let dataType {
                value = .data(NFTDataType.decode(data, type: dataType, hostEndianIntegers: true))
            }
            out.append(NFTElement(key: key, value: value, comment: element.comment))
        }
        return out.sorted(by: NFTElement.canonicalOrder)
    }
}

extension NFTElement {
    /// The key as nft prints it, for messages.
    public var sortKey: String { key.map(\.description).joined(separator: " . ") }

    /// The canonical order of elements, the same whichever source listed them: by key.
    public static func canonicalOrder(_ a: NFTElement, _ b: NFTElement) -> Bool { a.key.lexicographicallyPrecedes(b.key) }
}

extension NFTDNATTarget {
    public static func canonicalOrder(_ a: NFTDNATTarget, _ b: NFTDNATTarget) -> Bool { a.key.lexicographicallyPrecedes(b.key) }
}

extension NFTAtom: Comparable {
    private var rank: Int {
        switch self {
        case .address: 0
        case .proto: 1
        case .port: 2
        case .integer: 3
        case .bytes: 4
        }
    }

    /// Orders by kind, then value; cheap, unlike comparing printed forms.
    public static func < (lhs: NFTAtom, rhs: NFTAtom) -> Bool {
        switch (lhs, rhs) {
        case (.address(let a), .address(let b)): a < b
        case (.proto(let a), .proto(let b)): a < b
        case (.port(let a), .port(let b)): a < b
        case (.integer(let a), .integer(let b)): a < b
        case (.bytes(let a), .bytes(let b)): a.lexicographicallyPrecedes(b)
        default: lhs.rank < rhs.rank
        }
    }
}
