import SettleDataplane
import SettleModel

/// What Settle does with nftables netlink messages once libnftnl has parsed them: the changes
/// (tables, chains, rules of register-level expressions, sets, elements) applied to a mirror, whose
/// snapshot interprets registers, verdict maps and kube-proxy's chain names. The bytes are read as
/// a program of changes; names come from kube-proxy's vocabulary or from the bytes. Pure Swift, so
/// it runs in CI where the libnftnl-based FuzzNFTNetlink cannot (see .ci/fuzz).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNFTMirror(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = Input(bytes: UnsafeBufferPointer(start: start, count: count))
    var mirror = NFTMirror()
    while !input.isAtEnd {
        var changes: [NFTChange] = []
        for _ in 0..<(1 + input.byte() % 8) {
            if let change = input.change() { changes.append(change) }
        }
        _ = mirror.apply(changes)
    }
    _ = mirror.snapshot()
    return 0
}

struct Input {
    var bytes: UnsafeBufferPointer<UInt8>
    var offset = 0
    var isAtEnd: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        defer { offset += 1 }
        return offset < bytes.count ? bytes[offset] : 0
    }
    mutating func u32() -> UInt32 { (0..<4).reduce(0) { value, _ in value << 8 | UInt32(byte()) } }
    mutating func data() -> [UInt8] { (0..<(byte() % 20)).map { _ in byte() } }
    mutating func optional<T>(_ make: (inout Input) -> T) -> T? { byte() & 1 == 0 ? nil : make(&self) }

    static let chains = [
        "services", "nat-prerouting", "nat-output", "filter-forward", "service-ULMVA6XW-ns1/svc1/tcp/p80",
        "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80", "external-ULMVA6XW-ns1/svc1/tcp/p80", "reject-chain",
        "cluster-ips-check", "masquerading", "mark-for-masquerade",
    ]
    static let sets = ["service-ips", "service-nodeports", "no-endpoint-services", "cluster-ips", "__map0", "__set0"]

    mutating func name(_ vocabulary: [String]) -> String {
        let choice = Int(byte())
        if choice < vocabulary.count * 20 { return vocabulary[choice % vocabulary.count] }
        return String(decoding: data(), as: UTF8.self)
    }
    mutating func register() -> UInt32 { UInt32(byte() % 26) }

    mutating func expression() -> NFTLowLevelExpression {
        switch byte() % 7 {
        case 0: .immediateData(dreg: register(), data: data())
        case 1: .immediateVerdict(code: Int32(bitPattern: u32()), chain: optional { $0.name(Self.chains) })
        case 2: .lookup(set: name(Self.sets), sreg: register(), dreg: optional { $0.register() }, inverted: byte() & 1 == 1)
        case 3: .numgen(dreg: register(), modulus: u32() % 8, type: UInt32(byte() % 2), offset: UInt32(byte() % 4))
        case 4: .nat(type: UInt32(byte() % 2), family: UInt32(byte() % 12), addressRegister: optional { $0.register() }, portRegister: optional { $0.register() })
        case 5: .other(name: ["payload", "meta", "ct", "cmp", "counter"][Int(byte() % 5)], dreg: optional { $0.register() })
        default: .other(name: "cmp", dreg: nil)
        }
    }

    mutating func element() -> NFTLowLevelElement {
        NFTLowLevelElement(
            key: data(), data: optional { $0.data() }, verdict: optional { Int32(bitPattern: $0.u32()) },
            chain: optional { $0.name(Self.chains) }, flags: UInt32(byte() % 4), comment: optional { $0.name(["ns1/svc1:p80", "ns2/svc2"]) })
    }

    mutating func set() -> NFTLowLevelSet {
        NFTLowLevelSet(
            name: name(Self.sets), flags: UInt32(byte() % 16), keyType: u32(), keyLength: UInt32(byte() % 64),
            dataType: optional { [0xffff_ff00, 7, 13][Int($0.byte() % 3)] }, dataLength: optional { UInt32($0.byte() % 64) },
            keyByteOrder: optional { UInt32($0.byte() % 3) }, elements: (0..<(byte() % 4)).map { _ in element() })
    }

    mutating func change() -> NFTChange? {
        let family: NFTFamily = byte() & 1 == 0 ? .ip : .ip6
        let table = byte() % 16 == 0 ? "other" : NFTRuleset.kubeProxyTable
        switch byte() % 10 {
        case 0: return .newTable(family: family, table: table)
        case 1: return .delTable(family: family, table: table)
        case 2: return .newChain(family: family, table: table, chain: name(Self.chains))
        case 3: return .delChain(family: family, table: table, chain: name(Self.chains))
        case 4, 5:
            let rule = NFTLowLevelRule(chain: name(Self.chains), handle: UInt64(byte()), expressions: (0..<(byte() % 6)).map { _ in expression() })
            return .newRule(family: family, table: table, rule: rule, after: optional { UInt64($0.byte()) })
        case 6: return .delRule(family: family, table: table, chain: name(Self.chains), handle: UInt64(byte()))
        case 7: return .newSet(family: family, table: table, set: set())
        case 8: return .newElements(family: family, table: table, set: name(Self.sets), elements: (0..<(byte() % 4)).map { _ in element() })
        default:
            return byte() & 1 == 0
                ? .delSet(family: family, table: table, set: name(Self.sets))
                : .delElements(family: family, table: table, set: name(Self.sets), elements: (0..<(byte() % 3)).map { _ in element() })
        }
    }
}
