#if os(Linux)
import CMNL
import CNFTNL
import Glibc
import SettleDataplane

/// One nftables event message, decoded.
enum NFTablesEvent {
    /// A change to a kube-proxy table (other tables are dropped while decoding).
    case change(NFTChange)
    /// `NFT_MSG_NEWGEN`: the transaction is committed; its generation id.
    case generation(UInt32)
    /// A message of another table, family or kind (objects, flowtables…).
    case ignored
    /// A kube-proxy message libnftnl could not parse.
    case undecodable(String)
}

/// Turns `NFT_MSG_*` event messages into ``NFTChange``s with libnftnl, as the dump decodes replies:
/// rules through ``NFTablesExpressionDecoder``, sets and elements through the dumper's copying.
enum NFTablesEventDecoder {
    static func decode(_ header: UnsafePointer<nlmsghdr>, interner: StringInterner) -> NFTablesEvent {
        let type = Int32(header.pointee.nlmsg_type)
        guard type >> 8 == NFNL_SUBSYS_NFTABLES else { return .ignored }
        let message = UInt32(type & 0xff)
        guard Int(header.pointee.nlmsg_len) >= MemoryLayout<nlmsghdr>.size + MemoryLayout<nfgenmsg>.size else { return .ignored }
        let family = NFTFamily(rawValue: mnl_nlmsg_get_payload(header).assumingMemoryBound(to: nfgenmsg.self).pointee.nfgen_family)
        let kubeProxy = NFTRuleset.kubeProxyTable

        if message == NFT_MSG_NEWGEN.rawValue {
            guard let gen = nftnl_gen_alloc() else { return .undecodable("generation") }
            defer { nftnl_gen_free(gen) }
            guard nftnl_gen_nlmsg_parse(header, gen) >= 0 else { return .undecodable("generation") }
            return .generation(nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID)))
        }
        guard let family, family == .ip || family == .ip6 else { return .ignored }

        switch message {
        case NFT_MSG_NEWTABLE.rawValue, NFT_MSG_DELTABLE.rawValue:
            guard let table = nftnl_table_alloc() else { return .undecodable("table") }
            defer { nftnl_table_free(table) }
            guard nftnl_table_nlmsg_parse(header, table) >= 0, let name = nftnl_table_get_str(table, UInt16(NFTNL_TABLE_NAME.rawValue)) else {
                return .undecodable("table")
            }
            guard strcmp(name, kubeProxy) == 0 else { return .ignored }
            return .change(message == NFT_MSG_NEWTABLE.rawValue ? .newTable(family: family, table: kubeProxy) : .delTable(family: family, table: kubeProxy))

        case NFT_MSG_NEWCHAIN.rawValue, NFT_MSG_DELCHAIN.rawValue:
            guard let chain = nftnl_chain_alloc() else { return .undecodable("chain") }
            defer { nftnl_chain_free(chain) }
            guard nftnl_chain_nlmsg_parse(header, chain) >= 0, let table = nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_TABLE.rawValue)) else {
                return .undecodable("chain")
            }
            guard strcmp(table, kubeProxy) == 0 else { return .ignored }
            guard let name = nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_NAME.rawValue)) else { return .undecodable("chain without a name") }
            let chainName = interner.intern(name)
            return .change(
                message == NFT_MSG_NEWCHAIN.rawValue
                    ? .newChain(family: family, table: kubeProxy, chain: chainName) : .delChain(family: family, table: kubeProxy, chain: chainName))

        case NFT_MSG_NEWRULE.rawValue:
            guard isKubeProxy(header) else { return .ignored }
            guard let rule = NFTablesExpressionDecoder.rule(header, table: kubeProxy, interner: interner) else { return .undecodable("rule") }
            // The kernel reports the previous rule's handle only for a rule in the middle of its
            // chain; otherwise `NLM_F_APPEND` (from `add rule`) tells last from first.
            let after = rulePosition(header) ?? (Int32(header.pointee.nlmsg_flags) & NLM_F_APPEND != 0 ? nil : 0)
            return .change(.newRule(family: family, table: kubeProxy, rule: rule, after: after))

        case NFT_MSG_DELRULE.rawValue:
            guard let rule = nftnl_rule_alloc() else { return .undecodable("rule") }
            defer { nftnl_rule_free(rule) }
            guard nftnl_rule_nlmsg_parse(header, rule) >= 0, let table = nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue)) else {
                return .undecodable("rule deletion")
            }
            guard strcmp(table, kubeProxy) == 0 else { return .ignored }
            guard let chain = nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue)),
                nftnl_rule_is_set(rule, UInt16(NFTNL_RULE_HANDLE.rawValue))
            else { return .undecodable("rule deletion without chain or handle") }
            return .change(.delRule(family: family, table: kubeProxy, chain: interner.intern(chain), handle: nftnl_rule_get_u64(rule, UInt16(NFTNL_RULE_HANDLE.rawValue))))

        case NFT_MSG_NEWSET.rawValue, NFT_MSG_DELSET.rawValue:
            guard let set = nftnl_set_alloc() else { return .undecodable("set") }
            defer { nftnl_set_free(set) }
            guard nftnl_set_nlmsg_parse(header, set) >= 0, let table = nftnl_set_get_str(set, UInt16(NFTNL_SET_TABLE.rawValue)) else {
                return .undecodable("set")
            }
            guard strcmp(table, kubeProxy) == 0 else { return .ignored }
            guard let metadata = NFTablesNetlinkDumper.setMetadata(set) else { return .undecodable("set without a name") }
            return .change(
                message == NFT_MSG_NEWSET.rawValue
                    ? .newSet(family: family, table: kubeProxy, set: metadata) : .delSet(family: family, table: kubeProxy, set: metadata.name))

        case NFT_MSG_NEWSETELEM.rawValue, NFT_MSG_DELSETELEM.rawValue:
            guard let set = nftnl_set_alloc() else { return .undecodable("elements") }
            defer { nftnl_set_free(set) }
            guard nftnl_set_elems_nlmsg_parse(header, set) >= 0, let table = nftnl_set_get_str(set, UInt16(NFTNL_SET_TABLE.rawValue)) else {
                return .undecodable("elements")
            }
            guard strcmp(table, kubeProxy) == 0 else { return .ignored }
            guard let name = nftnl_set_get_str(set, UInt16(NFTNL_SET_NAME.rawValue)) else { return .undecodable("elements without a set name") }
            let elements = NFTablesNetlinkDumper.elements(of: set, interner: interner)
            let setName = interner.intern(name)
            return .change(
                message == NFT_MSG_NEWSETELEM.rawValue
                    ? .newElements(family: family, table: kubeProxy, set: setName, elements: elements)
                    : .delElements(family: family, table: kubeProxy, set: setName, elements: elements))

        default:
            return .ignored
        }
    }

    /// Attributes after the `nfgenmsg` header, walked without a C callback.
    private static func forEachAttribute(_ header: UnsafePointer<nlmsghdr>, _ body: (UnsafePointer<nlattr>) -> Bool) {
        let payload = mnl_nlmsg_get_payload_offset(header, MemoryLayout<nfgenmsg>.size)!
        var remaining = Int32(header.pointee.nlmsg_len) - Int32(MNLAlign(MemoryLayout<nlmsghdr>.size) + MNLAlign(MemoryLayout<nfgenmsg>.size))
        var attribute = payload.assumingMemoryBound(to: nlattr.self)
        while remaining > 0 && mnl_attr_ok(attribute, remaining) {
            if !body(attribute) { return }
            let length = MNLAlign(Int(attribute.pointee.nla_len))
            remaining -= Int32(length)
            attribute = (UnsafeMutableRawPointer(attribute) + length).assumingMemoryBound(to: nlattr.self)
        }
    }

    private static func MNLAlign(_ n: Int) -> Int { (n + 3) & ~3 }

    /// Whether a rule message names table kube-proxy (checked before the costlier full parse).
    private static func isKubeProxy(_ header: UnsafePointer<nlmsghdr>) -> Bool {
        var match = false
        forEachAttribute(header) { attribute in
            guard mnl_attr_get_type(attribute) == UInt16(NFTA_RULE_TABLE.rawValue) else { return true }
            match = strcmp(mnl_attr_get_str(attribute), NFTRuleset.kubeProxyTable) == 0
            return false
        }
        return match
    }

    /// `NFTA_RULE_POSITION`: the handle of the rule the new rule follows.
    private static func rulePosition(_ header: UnsafePointer<nlmsghdr>) -> UInt64? {
        var position: UInt64?
        forEachAttribute(header) { attribute in
            guard mnl_attr_get_type(attribute) == UInt16(NFTA_RULE_POSITION.rawValue) else { return true }
            position = UInt64(bigEndian: mnl_attr_get_u64(attribute))
            return false
        }
        return position
    }
}
#endif
