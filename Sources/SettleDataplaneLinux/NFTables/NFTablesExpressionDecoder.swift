#if os(Linux)
import CMNL
import CNFTNL
import Glibc
import SettleDataplane

/// Copies one `NFT_MSG_NEWRULE` message, parsed by libnftnl, into ``NFTLowLevelRule``.
///
/// Shared by the full dump and (later) the change-event monitor, which receives the same
/// messages. Only the attributes register tracking needs are read; every other expression is kept
/// as its name plus the register it loads, so it can invalidate stale register contents.
enum NFTablesExpressionDecoder {
    /// `interner` shares chain-name strings between rules (see ``StringInterner``).
    static func rule(_ header: UnsafePointer<nlmsghdr>, table: String?, interner: StringInterner) -> NFTLowLevelRule? {
        guard let rule = nftnl_rule_alloc() else { return nil }
        defer { nftnl_rule_free(rule) }
        guard nftnl_rule_nlmsg_parse(header, rule) >= 0,
            let chain = nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue))
        else { return nil }
        if let table {
            guard let t = nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue)), strcmp(t, table) == 0 else { return nil }
        }
        let handle = nftnl_rule_get_u64(rule, UInt16(NFTNL_RULE_HANDLE.rawValue))
        var expressions: [NFTLowLevelExpression] = []
        if let iterator = nftnl_expr_iter_create(rule) {
            defer { nftnl_expr_iter_destroy(iterator) }
            while let expression = nftnl_expr_iter_next(iterator) {
                expressions.append(decode(expression, interner: interner))
            }
        }
        return NFTLowLevelRule(chain: interner.intern(chain), handle: handle, expressions: expressions)
    }

    private static func decode(_ e: OpaquePointer, interner: StringInterner) -> NFTLowLevelExpression {
        func has(_ attribute: Int) -> Bool { nftnl_expr_is_set(e, UInt16(attribute)) }
        func u32(_ attribute: Int) -> UInt32 { nftnl_expr_get_u32(e, UInt16(attribute)) }
        func optionalU32(_ attribute: Int) -> UInt32? { has(attribute) ? u32(attribute) : nil }
        func string(_ attribute: Int) -> String? {
            guard has(attribute), let s = nftnl_expr_get_str(e, UInt16(attribute)) else { return nil }
            return interner.intern(s)
        }
        guard let namePointer = nftnl_expr_get_str(e, UInt16(NFTNL_EXPR_NAME)) else { return .other(name: "?", dreg: nil) }
        let name = String(cString: namePointer)
        switch name {
        case "immediate":
            if has(Int(NFTNL_EXPR_IMM_VERDICT)) {
                return .immediateVerdict(code: Int32(bitPattern: u32(Int(NFTNL_EXPR_IMM_VERDICT))), chain: string(Int(NFTNL_EXPR_IMM_CHAIN)))
            }
            var length: UInt32 = 0
            guard has(Int(NFTNL_EXPR_IMM_DATA)), let data = nftnl_expr_get(e, UInt16(NFTNL_EXPR_IMM_DATA), &length) else {
                return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_IMM_DREG)))
            }
            return .immediateData(
                dreg: u32(Int(NFTNL_EXPR_IMM_DREG)), data: Array(UnsafeRawBufferPointer(start: data, count: Int(length))))
        case "lookup":
            return .lookup(
                set: string(Int(NFTNL_EXPR_LOOKUP_SET)) ?? "", sreg: u32(Int(NFTNL_EXPR_LOOKUP_SREG)),
                dreg: optionalU32(Int(NFTNL_EXPR_LOOKUP_DREG)),
                inverted: (optionalU32(Int(NFTNL_EXPR_LOOKUP_FLAGS)) ?? 0) & 1 != 0)
        case "numgen":
            return .numgen(
                dreg: u32(Int(NFTNL_EXPR_NG_DREG)), modulus: u32(Int(NFTNL_EXPR_NG_MODULUS)), type: u32(Int(NFTNL_EXPR_NG_TYPE)),
                offset: optionalU32(Int(NFTNL_EXPR_NG_OFFSET)) ?? 0)
        case "nat":
            return .nat(
                type: u32(Int(NFTNL_EXPR_NAT_TYPE)), family: u32(Int(NFTNL_EXPR_NAT_FAMILY)),
                addressRegister: optionalU32(Int(NFTNL_EXPR_NAT_REG_ADDR_MIN)), portRegister: optionalU32(Int(NFTNL_EXPR_NAT_REG_PROTO_MIN)))
        case "payload": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_PAYLOAD_DREG)))
        case "meta": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_META_DREG)))
        case "ct": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_CT_DREG)))
        case "bitwise": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_BITWISE_DREG)))
        case "byteorder": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_BYTEORDER_DREG)))
        case "fib": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_FIB_DREG)))
        case "hash": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_HASH_DREG)))
        case "exthdr": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_EXTHDR_DREG)))
        case "rt": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_RT_DREG)))
        case "socket": return .other(name: name, dreg: optionalU32(Int(NFTNL_EXPR_SOCKET_DREG)))
        default: return .other(name: name, dreg: nil)
        }
    }
}
#endif
