import SettleModel

/// One nftables table as the kernel describes it over netlink: rules as register-machine
/// expressions, sets with raw key/data bytes and type ids.
///
/// `SettleDataplaneLinux` fills this from libnftnl objects (a thin copy, no interpretation);
/// ``semantic()`` interprets it — register tracking, anonymous-set inlining, typed element
/// decoding — in pure code that tests can drive without a kernel.
public struct NFTLowLevelTable: Hashable, Sendable {
    public var family: NFTFamily
    public var name: String
    /// Chain names in dump order (chains with no rules have no entry in `rules`).
    public var chains: [String]
    public var rules: [NFTLowLevelRule]
    public var sets: [NFTLowLevelSet]

    public init(family: NFTFamily, name: String, chains: [String] = [], rules: [NFTLowLevelRule] = [], sets: [NFTLowLevelSet] = []) {
        self.family = family
        self.name = name
        self.chains = chains
        self.rules = rules
        self.sets = sets
    }
}

public struct NFTLowLevelRule: Hashable, Sendable {
    public var chain: String
    public var handle: UInt64
    public var expressions: [NFTLowLevelExpression]

    public init(chain: String, handle: UInt64, expressions: [NFTLowLevelExpression]) {
        self.chain = chain
        self.handle = handle
        self.expressions = expressions
    }
}

/// The expressions whose registers matter for DNAT targets. Registers are the kernel's numbers
/// (`NFT_REG_VERDICT` 0, `NFT_REG_1…4` 1–4, `NFT_REG32_00…15` 8–23).
public enum NFTLowLevelExpression: Hashable, Sendable {
    case immediateData(dreg: UInt32, data: [UInt8])
    case immediateVerdict(code: Int32, chain: String?)
    /// `lookup`: with `dreg` a map lookup (0 = verdict map), without it a membership test.
    case lookup(set: String, sreg: UInt32, dreg: UInt32?, inverted: Bool)
    case numgen(dreg: UInt32, modulus: UInt32, type: UInt32, offset: UInt32)
    /// `nat`: type 0 snat, 1 dnat; registers absent when the statement has no address/port.
    case nat(type: UInt32, family: UInt32, addressRegister: UInt32?, portRegister: UInt32?)
    /// Any other expression; `dreg` when it loads a register (payload, meta, ct, …), so stale
    /// register contents are never mistaken for a DNAT address.
    case other(name: String, dreg: UInt32?)
}

public struct NFTLowLevelSet: Hashable, Sendable {
    public var name: String
    public var flags: UInt32
    public var keyType: UInt32
    public var keyLength: UInt32
    public var dataType: UInt32?
    public var dataLength: UInt32?
    /// From the set's user data (`NFTNL_UDATA_SET_KEYBYTEORDER`): 1 host, 2 big endian.
    public var keyByteOrder: UInt32?
    public var elements: [NFTLowLevelElement]

    public init(
        name: String, flags: UInt32, keyType: UInt32, keyLength: UInt32, dataType: UInt32? = nil,
        dataLength: UInt32? = nil, keyByteOrder: UInt32? = nil, elements: [NFTLowLevelElement] = []
    ) {
        self.name = name
        self.flags = flags
        self.keyType = keyType
        self.keyLength = keyLength
        self.dataType = dataType
        self.dataLength = dataLength
        self.keyByteOrder = keyByteOrder
        self.elements = elements
    }

    public static let anonymousFlag: UInt32 = 0x1
    public static let intervalFlag: UInt32 = 0x4
    public static let mapFlag: UInt32 = 0x8

    public var isAnonymous: Bool { flags & Self.anonymousFlag != 0 }
    public var isInterval: Bool { flags & Self.intervalFlag != 0 }
    public var isMap: Bool { flags & Self.mapFlag != 0 }
    /// `NFT_DATA_VERDICT`.
    public var isVerdictMap: Bool { isMap && dataType == 0xffff_ff00 }
}

public struct NFTLowLevelElement: Hashable, Sendable {
    public var key: [UInt8]
    public var data: [UInt8]?
    public var verdict: Int32?
    public var chain: String?
    public var flags: UInt32
    public var comment: String?

    public init(key: [UInt8], data: [UInt8]? = nil, verdict: Int32? = nil, chain: String? = nil, flags: UInt32 = 0, comment: String? = nil) {
        self.key = key
        self.data = data
        self.verdict = verdict
        self.chain = chain
        self.flags = flags
        self.comment = comment
    }
}

/// nft's data type ids (`enum datatypes` in nftables' `datatype.h`) for the types kube-proxy uses.
public enum NFTDataType {
    public static let verdict: UInt32 = 1
    public static let integer: UInt32 = 4
    public static let ipv4Address: UInt32 = 7
    public static let ipv6Address: UInt32 = 8
    public static let inetProtocol: UInt32 = 12
    public static let inetService: UInt32 = 13
    public static let mark: UInt32 = 19

    /// Splits a concatenated type id (6 bits per component, first component highest).
    public static func components(of type: UInt32) -> [UInt32] {
        var type = type
        var parts: [UInt32] = []
        while type != 0 {
            parts.insert(type & 0x3f, at: 0)
            type >>= 6
        }
        return parts
    }

    /// Byte size of one component; `nil` when only the set's total length can tell.
    static func size(of component: UInt32) -> Int? {
        switch component {
        case ipv4Address: 4
        case ipv6Address: 16
        case inetProtocol: 1
        case inetService: 2
        case mark: 4
        default: nil
        }
    }

    /// Decodes `bytes` as the (possibly concatenated) type, each component padded to 4 bytes as
    /// nftables lays concatenations out in 32-bit registers. Unknown layouts decode as raw bytes.
    public static func decode(_ bytes: [UInt8], type: UInt32, hostEndianIntegers: Bool = true) -> [NFTAtom] {
        let parts = components(of: type)
        if parts.count <= 1 {
            return [atom(bytes, component: parts.first ?? 0, hostEndian: hostEndianIntegers)]
        }
        var atoms: [NFTAtom] = []
        var offset = 0
        for part in parts {
            guard let size = size(of: part), offset + size <= bytes.count else {
                return [.bytes(bytes)]
            }
            atoms.append(atom(Array(bytes[offset..<offset + size]), component: part, hostEndian: hostEndianIntegers))
            offset += (size + 3) / 4 * 4
        }
        return atoms
    }

    static func atom(_ bytes: [UInt8], component: UInt32, hostEndian: Bool) -> NFTAtom {
        switch component {
        case ipv4Address where bytes.count == 4, ipv6Address where bytes.count == 16:
            return IPAddress(bytes: bytes).map(NFTAtom.address) ?? .bytes(bytes)
        case inetProtocol where !bytes.isEmpty:
            return .proto(bytes[0])
        case inetService where bytes.count >= 2:
            return .port(UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
        case integer, mark:
            guard bytes.count <= 8 else { return .bytes(bytes) }
            let ordered = hostEndian ? bytes.reversed() : bytes
            return .integer(ordered.reduce(0) { $0 << 8 | UInt64($1) })
        default:
            return .bytes(bytes)
        }
    }
}
