import Foundation
import SettleModel

/// Decodes libnftables' JSON output (`nft -j list table …`) into ``NFTRuleset``.
///
/// This is Settle's second, independent path to the same ruleset: nft's own decoder turns the
/// kernel's netlink messages into JSON, and this turns the JSON into the statements the routing
/// walk needs. Every nftables test reads both paths and requires equal results. The JSON path costs
/// far more at scale (see docs/benchmarks.md), so production reads use netlink.
///
/// Decoding uses `JSONDecoder` into small structs that skip everything routing ignores, which is
/// several times cheaper in time and memory than `JSONSerialization` at 10k services.
public enum NFTablesJSONDecoder {
    /// Decodes one or more JSON documents' tables (e.g. one per `list table` command).
    public static func decode(_ documents: [Data]) throws(DataplaneError) -> NFTRuleset {
        var tables: [TableKey: NFTTable] = [:]
        var order: [TableKey] = []
        func table(_ family: String, _ name: String) -> TableKey? {
            guard let fam = NFTFamily(name: family) else { return nil }
            let key = TableKey(family: fam, name: name)
            if tables[key] == nil {
                tables[key] = NFTTable(family: fam, name: name)
                order.append(key)
            }
            return key
        }
        for data in documents {
            let document: Document
            do {
                document = try JSONDecoder().decode(Document.self, from: data)
            } catch {
                throw .malformed("libnftables JSON: \(error)")
            }
            for item in document.nftables {
                switch item {
                case .table(let t):
                    _ = table(t.family, t.name)
                case .chain(let c):
                    guard let key = table(c.family, c.table) else { continue }
                    if tables[key]!.chains[c.name] == nil { tables[key]!.chains[c.name] = NFTChain(name: c.name) }
                case .set(let s, let isMap):
                    guard let key = table(s.family, s.table) else { continue }
                    let interval = s.flags?.contains("interval") ?? false
                    let elements = interval ? nil : (s.elem ?? []).map { $0.element(keyTypes: s.type.names, valueTypes: s.map?.names) }
                        .sorted(by: NFTElement.canonicalOrder)
                    tables[key]!.sets[s.name] = NFTSet(name: s.name, isMap: isMap, elements: elements)
                case .rule(let r):
                    guard let key = table(r.family, r.table) else { continue }
                    let statements = r.expr.compactMap(\.statement)
                    tables[key]!.chains[r.chain, default: NFTChain(name: r.chain)].rules.append(
                        NFTRule(handle: r.handle, statements: statements))
                case .other:
                    continue
                }
            }
        }
        return NFTRuleset(tables: order.compactMap { tables[$0] })
    }

    private struct TableKey: Hashable {
        var family: NFTFamily
        var name: String
    }

    // MARK: - Document structure

    struct Document: Decodable {
        var nftables: [Item]
    }

    enum Item: Decodable {
        case table(TableJSON)
        case chain(ChainJSON)
        case set(SetJSON, isMap: Bool)
        case rule(RuleJSON)
        case other

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            if let v = try c.decodeIfPresent(RuleJSON.self, forKey: AnyKey("rule")) {
                self = .rule(v)
            } else if let v = try c.decodeIfPresent(ChainJSON.self, forKey: AnyKey("chain")) {
                self = .chain(v)
            } else if let v = try c.decodeIfPresent(SetJSON.self, forKey: AnyKey("map")) {
                self = .set(v, isMap: true)
            } else if let v = try c.decodeIfPresent(SetJSON.self, forKey: AnyKey("set")) {
                self = .set(v, isMap: false)
            } else if let v = try c.decodeIfPresent(TableJSON.self, forKey: AnyKey("table")) {
                self = .table(v)
            } else {
                self = .other
            }
        }
    }

    struct TableJSON: Decodable {
        var family: String
        var name: String
    }

    struct ChainJSON: Decodable {
        var family: String
        var table: String
        var name: String
    }

    struct RuleJSON: Decodable {
        var family: String
        var table: String
        var chain: String
        var handle: UInt64
        var expr: [Statement]
    }

    /// `"ipv4_addr"` or `["ipv4_addr", "inet_proto", "inet_service"]`.
    struct TypeNames: Decodable {
        var names: [String]
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { names = [one] } else { names = try c.decode([String].self) }
        }
    }

    struct SetJSON: Decodable {
        var family: String
        var table: String
        var name: String
        var type: TypeNames
        var map: TypeNames?
        var flags: [String]?
        var elem: [ElementJSON]?

        enum CodingKeys: String, CodingKey { case family, table, name, type, map, flags, elem }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            family = try c.decode(String.self, forKey: .family)
            table = try c.decode(String.self, forKey: .table)
            name = try c.decode(String.self, forKey: .name)
            type = try c.decode(TypeNames.self, forKey: .type)
            map = try c.decodeIfPresent(TypeNames.self, forKey: .map)
            // nft prints a single flag as a string and several as a list.
            if let one = try? c.decodeIfPresent(String.self, forKey: .flags) {
                flags = [one]
            } else {
                flags = try? c.decodeIfPresent([String].self, forKey: .flags)
            }
            elem = try c.decodeIfPresent([ElementJSON].self, forKey: .elem)
        }
    }

    /// A set element (`key`) or map element (`[key, value]`).
    struct ElementJSON: Decodable {
        var key: Value
        var value: Value?

        init(from decoder: any Decoder) throws {
            if var list = try? decoder.unkeyedContainer(), list.count == 2 {
                key = try list.decode(Value.self)
                value = try list.decode(Value.self)
            } else {
                key = try Value(from: decoder)
                value = nil
            }
        }

        func element(keyTypes: [String], valueTypes: [String]?) -> NFTElement {
            var comment: String?
            var keyValue = key
            if case .elem(let inner, let c) = key {
                keyValue = inner
                comment = c
            }
            var elementValue: NFTElementValue?
            if let value {
                if case .verdict(let v) = value {
                    elementValue = .verdict(v)
                } else {
                    elementValue = .data(value.atoms(types: valueTypes ?? []))
                }
            }
            return NFTElement(key: keyValue.atoms(types: keyTypes), value: elementValue, comment: comment)
        }
    }

    // MARK: - Statements

    enum Statement: Decodable {
        case verdict(NFTVerdict)
        case vmap(key: NFTKeyKind, data: Value)
        case dnat(DNATJSON)
        case ignored

        var statement: NFTStatement? {
            switch self {
            case .verdict(let v):
                return .verdict(v)
            case .vmap(let key, let data):
                switch data {
                case .string(let s) where s.hasPrefix("@"):
                    return .vmap(key: key, map: .named(String(s.dropFirst())))
                case .set(let elements):
                    let keyTypes: [String] = if case .numgen = key { ["integer"] } else { [] }
                    return .vmap(
                        key: key,
                        map: .anonymous(elements.map { $0.element(keyTypes: keyTypes, valueTypes: nil) }.sorted(by: NFTElement.canonicalOrder)))
                default:
                    return .unsupported("vmap with data \(data)")
                }
            case .dnat(let d):
                return d.statement
            case .ignored:
                return nil
            }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            if c.contains(AnyKey("vmap")) {
                let v = try c.decode(VMapJSON.self, forKey: AnyKey("vmap"))
                self = .vmap(key: v.key.keyKind, data: v.data)
            } else if c.contains(AnyKey("dnat")) {
                self = .dnat(try c.decode(DNATJSON.self, forKey: AnyKey("dnat")))
            } else if let verdict = try Self.verdict(c) {
                self = .verdict(verdict)
            } else {
                self = .ignored
            }
        }

        static func verdict(_ c: KeyedDecodingContainer<AnyKey>) throws -> NFTVerdict? {
            for (name, verdict) in [("accept", NFTVerdict.accept), ("drop", .drop), ("return", .return), ("continue", .continue)]
            where c.contains(AnyKey(name)) {
                return verdict
            }
            if let t = try c.decodeIfPresent(TargetJSON.self, forKey: AnyKey("jump")) { return .jump(t.target) }
            if let t = try c.decodeIfPresent(TargetJSON.self, forKey: AnyKey("goto")) { return .goto(t.target) }
            return nil
        }
    }

    struct TargetJSON: Decodable {
        var target: String
    }

    struct VMapJSON: Decodable {
        var key: KeyJSON
        var data: Value
    }

    /// A lookup key: only whether it is `numgen` matters for routing.
    struct KeyJSON: Decodable {
        var keyKind: NFTKeyKind
        init(from decoder: any Decoder) throws {
            if let c = try? decoder.container(keyedBy: AnyKey.self),
                let n = try c.decodeIfPresent(NumgenJSON.self, forKey: AnyKey("numgen"))
            {
                keyKind = .numgen(modulus: n.mod, offset: n.offset ?? 0)
            } else {
                keyKind = .selector
            }
        }
    }

    struct NumgenJSON: Decodable {
        var mod: UInt32
        var offset: UInt32?
    }

    struct DNATJSON: Decodable {
        var addr: Value?
        var port: Int?
        var mapKey: NFTKeyKind?
        var mapData: [ElementJSON]?

        enum CodingKeys: String, CodingKey { case addr, port }
        struct MapJSON: Decodable {
            var key: KeyJSON
            var data: SetBox
        }
        struct SetBox: Decodable {
            var set: [ElementJSON]
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            port = try? c.decodeIfPresent(Int.self, forKey: .port)
            if let m = try? c.decodeIfPresent([String: MapJSON].self, forKey: .addr), let map = m["map"] {
                mapKey = map.key.keyKind
                mapData = map.data.set
            } else {
                addr = try c.decodeIfPresent(Value.self, forKey: .addr)
            }
        }

        var statement: NFTStatement {
            if let mapKey, let mapData {
                var targets: [NFTDNATTarget] = []
                let keyTypes: [String] = if case .numgen = mapKey { ["integer"] } else { [] }
                for element in mapData {
                    guard let value = element.value else { return .unsupported("dnat map element without a value") }
                    let atoms = value.atoms(types: [])
                    guard case .address(let ip)? = atoms.first else { return .unsupported("dnat map value \(value)") }
                    var port: Int?
                    if atoms.count > 1 {
                        switch atoms[1] {
                        case .port(let p): port = Int(p)
                        case .integer(let p): port = Int(p)
                        default: return .unsupported("dnat map port \(atoms[1])")
                        }
                    }
                    targets.append(NFTDNATTarget(key: element.key.atoms(types: keyTypes), address: ip, port: port))
                }
                return .dnat(.map(key: mapKey, targets: targets.sorted(by: NFTDNATTarget.canonicalOrder)))
            }
            guard case .string(let s)? = addr, let ip = IPAddress(s) else {
                return .unsupported("dnat to \(addr.map { "\($0)" } ?? "no address")")
            }
            return .dnat(.literal(address: ip, port: port))
        }
    }

    // MARK: - Values

    /// A JSON value as nft prints set keys, map values and anonymous sets.
    indirect enum Value: Decodable, CustomStringConvertible {
        case string(String)
        case number(Int64)
        case concat([Value])
        case elem(Value, comment: String?)
        case set([ElementJSON])
        case verdict(NFTVerdict)
        case other

        init(from decoder: any Decoder) throws {
            if let c = try? decoder.singleValueContainer() {
                if let n = try? c.decode(Int64.self) {
                    self = .number(n)
                    return
                }
                if let s = try? c.decode(String.self) {
                    self = .string(s)
                    return
                }
            }
            guard let c = try? decoder.container(keyedBy: AnyKey.self) else {
                self = .other
                return
            }
            if let parts = try c.decodeIfPresent([Value].self, forKey: AnyKey("concat")) {
                self = .concat(parts)
            } else if let e = try c.decodeIfPresent(ElemJSON.self, forKey: AnyKey("elem")) {
                self = .elem(e.val, comment: e.comment)
            } else if let s = try c.decodeIfPresent([ElementJSON].self, forKey: AnyKey("set")) {
                self = .set(s)
            } else if let v = try Statement.verdict(c) {
                self = .verdict(v)
            } else {
                self = .other
            }
        }

        struct ElemJSON: Decodable {
            var val: Value
            var comment: String?
        }

        var description: String {
            switch self {
            case .string(let s): s
            case .number(let n): "\(n)"
            case .concat(let parts): parts.map(\.description).joined(separator: " . ")
            case .elem(let v, _): v.description
            case .set: "{…}"
            case .verdict(let v): v.description
            case .other: "?"
            }
        }

        /// Typed atoms; `types` (nft type names) when the set declares them, else inferred.
        func atoms(types: [String]) -> [NFTAtom] {
            let parts: [Value] = if case .concat(let p) = self { p } else { [self] }
            return parts.enumerated().map { index, part in
                Self.atom(part, type: index < types.count ? types[index] : nil)
            }
        }

        static func atom(_ value: Value, type: String?) -> NFTAtom {
            if case .string(let s) = value, type == "inet_proto" || (type == nil && protocolNumbers[s] != nil) {
                return protocolNumbers[s].map(NFTAtom.proto) ?? .bytes(Array(s.utf8))
            }
            switch (value, type) {
            case (.number(let n), "inet_proto"):
                return .proto(UInt8(truncatingIfNeeded: n))
            case (.string(let s), _):
                if let ip = IPAddress(s) { return .address(ip) }
                return .bytes(Array(s.utf8))
            case (.number(let n), "integer"), (.number(let n), "mark"):
                return .integer(UInt64(bitPattern: n))
            case (.number(let n), _):
                return .port(UInt16(truncatingIfNeeded: n))
            default:
                return .bytes(Array(value.description.utf8))
            }
        }
    }

    static let protocolNumbers: [String: UInt8] = ["tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58]

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
