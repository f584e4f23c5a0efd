public import SettleModel

/// The parts of an nftables ruleset that decide where a new connection is DNATed.
///
/// Two independent sources fill this model: the netlink dump decoded with libnftnl
/// (``NFTLowLevelTable`` through ``NFTLowLevelTable/semantic()``) and libnftables' JSON
/// (``NFTablesJSONDecoder``). Both keep exactly the same statements, so equal inputs give equal
/// values — the differential check on the netlink decoder. Statements that cannot change a DNAT
/// target (matches, counters, marks, masquerade, set updates) are dropped by both; rules are kept
/// even when empty so rule counts still compare.
public struct NFTRuleset: Hashable, Sendable {
    public var tables: [NFTTable]

    public init(tables: [NFTTable]) { self.tables = tables }

    public func table(family: NFTFamily, name: String) -> NFTTable? {
        tables.first { $0.family == family && $0.name == name }
    }
}

/// nftables address families, by their netlink numbers (`NFPROTO_*`).
public enum NFTFamily: UInt8, Hashable, Sendable, Comparable, CaseIterable {
    case inet = 1
    case ip = 2
    case arp = 3
    case netdev = 5
    case bridge = 7
    case ip6 = 10

    public init?(name: String) {
        guard let family = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = family
    }

    public var name: String {
        switch self {
        case .inet: "inet"
        case .ip: "ip"
        case .arp: "arp"
        case .netdev: "netdev"
        case .bridge: "bridge"
        case .ip6: "ip6"
        }
    }

    public static func < (lhs: NFTFamily, rhs: NFTFamily) -> Bool { lhs.rawValue < rhs.rawValue }
}

public struct NFTTable: Hashable, Sendable {
    public var family: NFTFamily
    public var name: String
    /// Chains by name.
    public var chains: [String: NFTChain]
    /// Named sets and maps by name. Anonymous sets are inlined where rules use them.
    public var sets: [String: NFTSet]

    public init(family: NFTFamily, name: String, chains: [String: NFTChain] = [:], sets: [String: NFTSet] = [:]) {
        self.family = family
        self.name = name
        self.chains = chains
        self.sets = sets
    }
}

public struct NFTChain: Hashable, Sendable {
    public var name: String
    public var rules: [NFTRule]

    public init(name: String, rules: [NFTRule] = []) {
        self.name = name
        self.rules = rules
    }
}

public struct NFTRule: Hashable, Sendable {
    public var handle: UInt64
    public var statements: [NFTStatement]

    public init(handle: UInt64, statements: [NFTStatement]) {
        self.handle = handle
        self.statements = statements
    }
}

/// A statement that can move a packet to another chain or rewrite its destination.
public enum NFTStatement: Hashable, Sendable {
    /// An immediate verdict (`jump x`, `goto x`, `drop`, …).
    case verdict(NFTVerdict)
    /// `<key> vmap <map>`: the verdict comes from a map lookup.
    case vmap(key: NFTKeyKind, map: NFTMapReference)
    /// `dnat to …`.
    case dnat(NFTDNAT)
    /// A statement one source could not decode into the above; the walker warns when it meets one.
    case unsupported(String)
}

public enum NFTVerdict: Hashable, Sendable, CustomStringConvertible {
    case accept
    case drop
    case `continue`
    case `return`
    case `break`
    case jump(String)
    case goto(String)
    case other(Int32)

    /// The chain a `jump` or `goto` leads to.
    public var target: String? {
        switch self {
        case .jump(let chain), .goto(let chain): chain
        default: nil
        }
    }

    /// Decodes a netlink verdict code (`NF_DROP`, `NFT_JUMP`, …).
    public init(code: Int32, chain: String?) {
        switch code {
        case 0: self = .drop
        case 1: self = .accept
        case -1: self = .continue
        case -2: self = .break
        case -3: self = chain.map { .jump($0) } ?? .other(code)
        case -4: self = chain.map { .goto($0) } ?? .other(code)
        case -5: self = .return
        default: self = .other(code)
        }
    }

    public var description: String {
        switch self {
        case .accept: "accept"
        case .drop: "drop"
        case .continue: "continue"
        case .return: "return"
        case .break: "break"
        case .jump(let c): "jump \(c)"
        case .goto(let c): "goto \(c)"
        case .other(let code): "verdict(\(code))"
        }
    }
}

/// What a map lookup is keyed on, as far as routing cares: a random bucket or packet fields.
public enum NFTKeyKind: Hashable, Sendable {
    /// `numgen random|inc mod M offset O`.
    case numgen(modulus: UInt32, offset: UInt32)
    /// Anything else: addresses, ports, protocols and their concatenations.
    case selector
}

public enum NFTMapReference: Hashable, Sendable {
    /// `@name`: a named map of the same table.
    case named(String)
    /// An anonymous map written inline in the rule, with its elements.
    case anonymous([NFTElement])
}

public enum NFTDNAT: Hashable, Sendable {
    /// `dnat to ADDR[:PORT]`.
    case literal(address: IPAddress, port: Int?)
    /// `dnat ip addr . port to <key> map { K : ADDR . PORT, … }`.
    case map(key: NFTKeyKind, targets: [NFTDNATTarget])
}

public struct NFTDNATTarget: Hashable, Sendable {
    public var key: [NFTAtom]
    public var address: IPAddress
    public var port: Int?

    public init(key: [NFTAtom], address: IPAddress, port: Int?) {
        self.key = key
        self.address = address
        self.port = port
    }
}

/// One typed component of a set key or map value.
public enum NFTAtom: Hashable, Sendable, CustomStringConvertible {
    case address(IPAddress)
    /// An IP protocol number (`inet_proto`).
    case proto(UInt8)
    /// A transport port (`inet_service`).
    case port(UInt16)
    case integer(UInt64)
    /// A value of a type this model does not name; compared as bytes.
    case bytes([UInt8])

    public var description: String {
        switch self {
        case .address(let a): a.description
        case .proto(let p): L4Protocol(number: p)?.lowercased ?? "\(p)"
        case .port(let p): "\(p)"
        case .integer(let i): "\(i)"
        case .bytes(let b): "0x" + b.map { String($0, radix: 16) }.joined()
        }
    }
}

public enum NFTElementValue: Hashable, Sendable {
    case verdict(NFTVerdict)
    case data([NFTAtom])
}

public struct NFTElement: Hashable, Sendable {
    public var key: [NFTAtom]
    public var value: NFTElementValue?
    public var comment: String?

    public init(key: [NFTAtom], value: NFTElementValue? = nil, comment: String? = nil) {
        self.key = key
        self.value = value
        self.comment = comment
    }
}

/// A named set or map.
public struct NFTSet: Hashable, Sendable {
    public var name: String
    public var isMap: Bool
    /// The elements, or `nil` for interval sets (CIDR ranges), whose elements routing never needs
    /// and whose netlink form (interval ends) differs from nft's printed form.
    public var elements: [NFTElement]?

    public init(name: String, isMap: Bool, elements: [NFTElement]?) {
        self.name = name
        self.isMap = isMap
        self.elements = elements
    }
}
