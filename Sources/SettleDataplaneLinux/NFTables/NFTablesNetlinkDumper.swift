#if os(Linux)
import CMNL
import CNFTNL
import Glibc
import SettleDataplane
import Synchronization

/// Dumps nftables objects over `NETLINK_NETFILTER` with libmnl and copies them out of libnftnl's
/// parsed objects into ``NFTLowLevelTable`` — the same requests `nft list table` sends.
///
/// This file only transcribes what libnftnl parsed; interpretation (registers, anonymous maps,
/// typed elements) is pure code in `SettleDataplane`. Must be used on the thread that created
/// `socket`.
struct NFTablesNetlinkDumper {
    let socket: NetlinkSocket

    init(socket: NetlinkSocket) { self.socket = socket }

    /// The dump requests a read sends, each filtered in the kernel to one table (and chain or set).
    enum DumpRequest {
        case chains(table: String)
        case sets(table: String)
        case elements(table: String, set: String)
        case rules(table: String, chain: String?)
    }

    /// Builds `request` for `family` into `buffer`; returns the message length.
    static func build(_ request: DumpRequest, family: NFTFamily, into buffer: UnsafeMutablePointer<CChar>, seq: UInt32) -> Int {
        func header(_ type: nf_tables_msg_types) -> UnsafeMutablePointer<nlmsghdr> {
            nftnl_nlmsg_build_hdr(buffer, UInt16(type.rawValue), UInt16(family.rawValue), UInt16(NLM_F_DUMP), seq)!
        }
        let nlh: UnsafeMutablePointer<nlmsghdr>
        switch request {
        case .chains(let table):
            nlh = header(NFT_MSG_GETCHAIN)
            let chain = nftnl_chain_alloc()!
            nftnl_chain_set_str(chain, UInt16(NFTNL_CHAIN_TABLE.rawValue), table)
            nftnl_chain_nlmsg_build_payload(nlh, chain)
            nftnl_chain_free(chain)
        case .sets(let table), .elements(let table, _):
            let isElements: Bool
            if case .elements = request { isElements = true } else { isElements = false }
            nlh = header(isElements ? NFT_MSG_GETSETELEM : NFT_MSG_GETSET)
            let set = nftnl_set_alloc()!
            nftnl_set_set_str(set, UInt16(NFTNL_SET_TABLE.rawValue), table)
            if case .elements(_, let name) = request {
                nftnl_set_set_str(set, UInt16(NFTNL_SET_NAME.rawValue), name)
                nftnl_set_elems_nlmsg_build_payload(nlh, set)
            } else {
                nftnl_set_nlmsg_build_payload(nlh, set)
            }
            nftnl_set_free(set)
        case .rules(let table, let chain):
            nlh = header(NFT_MSG_GETRULE)
            let rule = nftnl_rule_alloc()!
            nftnl_rule_set_str(rule, UInt16(NFTNL_RULE_TABLE.rawValue), table)
            if let chain { nftnl_rule_set_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue), chain) }
            nftnl_rule_nlmsg_build_payload(nlh, rule)
            nftnl_rule_free(rule)
        }
        return Int(nlh.pointee.nlmsg_len)
    }

    /// Sends one dump request and hands each reply message to `handle`.
    func dump(
        _ request: DumpRequest, family: NFTFamily, operation: String, handle: (UnsafePointer<nlmsghdr>) throws(DataplaneError) -> Void
    ) throws(DataplaneError) {
        try socket.exchange(operation: operation, dump: true, build: { Self.build(request, family: family, into: $0, seq: $1) }, handle: handle)
    }

    /// The ruleset generation: it changes with every committed transaction, so equal values before
    /// and after a multi-request read prove the read saw one consistent ruleset.
    func generation() throws(DataplaneError) -> UInt32 {
        var id: UInt32?
        try socket.exchange(operation: "get generation", dump: false) { buffer, seq in
            let header = nftnl_nlmsg_build_hdr(buffer, UInt16(NFT_MSG_GETGEN.rawValue), UInt16(AF_UNSPEC), 0, seq)!
            return Int(header.pointee.nlmsg_len)
        } handle: { header in
            guard let gen = nftnl_gen_alloc() else { return }
            defer { nftnl_gen_free(gen) }
            if nftnl_gen_nlmsg_parse(header, gen) >= 0 { id = nftnl_gen_get_u32(gen, UInt16(NFTNL_GEN_ID)) }
        }
        guard let id else { throw .netlink(operation: "get generation (no reply)", errno: EPROTO) }
        return id
    }

    /// Every table in the namespace.
    func tables() throws(DataplaneError) -> [(family: NFTFamily, name: String)] {
        var out: [(NFTFamily, String)] = []
        try socket.exchange(operation: "list tables", dump: true) { buffer, seq in
            let header = nftnl_nlmsg_build_hdr(buffer, UInt16(NFT_MSG_GETTABLE.rawValue), UInt16(AF_UNSPEC), UInt16(NLM_F_DUMP), seq)!
            return Int(header.pointee.nlmsg_len)
        } handle: { header in
            guard let table = nftnl_table_alloc() else { return }
            defer { nftnl_table_free(table) }
            guard nftnl_table_nlmsg_parse(header, table) >= 0,
                let family = NFTFamily(rawValue: UInt8(truncatingIfNeeded: nftnl_table_get_u32(table, UInt16(NFTNL_TABLE_FAMILY.rawValue)))),
                let name = nftnl_table_get_str(table, UInt16(NFTNL_TABLE_NAME.rawValue))
            else { return }
            out.append((family, String(cString: name)))
        }
        return out
    }

    /// Chains, sets with their elements, and rules of one table, interpreted.
    func table(family: NFTFamily, name: String) throws(DataplaneError) -> NFTTable {
        let (semantic, decoded) = try read(family: family, name: name) { $0.semantic() }
        var table = semantic
        for (chain, rules) in decoded {
            table.chains[chain, default: NFTChain(name: chain)].rules.append(contentsOf: rules)
        }
        return table
    }

    /// The same read as ``table(family:name:)``, kept in the form a change-event mirror starts
    /// from: register-level sets (anonymous ones included, with elements) and interpreted rules.
    /// `shouldStop` is asked between chains; when it says yes the read ends with `ECANCELED`, so
    /// a stopping monitor need not finish a read of seconds.
    func mirrorTable(family: NFTFamily, name: String, shouldStop: () -> Bool = { false }) throws(DataplaneError) -> NFTMirrorTableDump {
        let (lowLevel, decoded) = try read(family: family, name: name, shouldStop: shouldStop) { $0 }
        var rules: [String: [NFTRule]] = [:]
        for (chain, chainRules) in decoded { rules[chain, default: []].append(contentsOf: chainRules) }
        return NFTMirrorTableDump(family: family, name: name, chains: lowLevel.chains, sets: lowLevel.sets, rules: rules)
    }

    /// Reads one table: chains and sets with elements (register-level, handed to `whileDecoding`
    /// while the rule pipeline still works) and interpreted rules by chain, in dump order.
    private func read<T>(
        family: NFTFamily, name: String, shouldStop: () -> Bool = { false }, whileDecoding: (NFTLowLevelTable) -> T
    ) throws(DataplaneError) -> (T, [(chain: String, rules: [NFTRule])]) {
        let timing = getenv("SETTLE_TIMING") != nil
        let started = ContinuousClock.now
        let interner = StringInterner()
        var result = NFTLowLevelTable(family: family, name: name)
        result.chains = try chainNames(family: family, table: name, interner: interner)
        result.sets = try sets(family: family, table: name)
        let setsListed = ContinuousClock.now
        for index in result.sets.indices {
            result.sets[index].elements = try elements(family: family, table: name, set: result.sets[index].name, interner: interner)
        }
        // One rule dump per chain, not one for the table: the kernel resumes a table-wide dump by
        // walking the table from its first chain for every 32 KB batch, which at kube-proxy scale
        // costs several times the per-chain lookups (docs/benchmarks.md).
        let setsFetched = ContinuousClock.now
        var setsByName: [String: NFTLowLevelSet] = [:]
        for set in result.sets { setsByName[set.name] = set }
        // Interpreting rules as they arrive keeps no register-level rule in memory.
        let pipeline = RuleDecodePipeline(table: name, sets: setsByName, strings: interner.buckets)
        var chunk: [UInt8] = []
        chunk.reserveCapacity(RuleDecodePipeline.chunkBytes + 64 * 1024)
        for chain in result.chains {
            if shouldStop() {
                _ = pipeline.finish()
                throw .netlink(operation: "read of \(family.name) \(name) (stopped)", errno: ECANCELED)
            }
            try dump(.rules(table: name, chain: chain), family: family, operation: "list rules of \(chain)") { header in
                chunk.appendMessage(header)
            }
            if chunk.count >= RuleDecodePipeline.chunkBytes {
                pipeline.submit(chunk)
                chunk = []
                chunk.reserveCapacity(RuleDecodePipeline.chunkBytes + 64 * 1024)
            }
        }
        pipeline.submit(chunk)
        let fetched = ContinuousClock.now
        let value = whileDecoding(result)
        let decoded = pipeline.finish()
        if timing {
            let busy = pipeline.busy.withLock { $0 }
            // SETTLE_TIMING=1: where a full read spends its time (docs/benchmarks.md).
            let line = "note: \(family.name) \(name): chains+sets listed at \(setsListed - started), elements fetched at \(setsFetched - started), rules at \(fetched - started), decode busy \(busy), waited \(ContinuousClock.now - fetched)\n"
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
        return (value, decoded)
    }

    /// The names of one table's chains (no rules), interned.
    func chainNames(family: NFTFamily, table: String, interner: StringInterner = StringInterner()) throws(DataplaneError) -> [String] {
        var names: [String] = []
        try dump(.chains(table: table), family: family, operation: "list chains") { header in
            guard let chain = nftnl_chain_alloc() else { return }
            defer { nftnl_chain_free(chain) }
            guard nftnl_chain_nlmsg_parse(header, chain) >= 0,
                let tableName = nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_TABLE.rawValue)), String(cString: tableName) == table,
                let name = nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_NAME.rawValue))
            else { return }
            names.append(interner.intern(name))
        }
        return names
    }

    private func sets(family: NFTFamily, table: String) throws(DataplaneError) -> [NFTLowLevelSet] {
        var out: [NFTLowLevelSet] = []
        try dump(.sets(table: table), family: family, operation: "list sets") { header in
            guard let set = nftnl_set_alloc() else { return }
            defer { nftnl_set_free(set) }
            guard nftnl_set_nlmsg_parse(header, set) >= 0,
                let tableName = nftnl_set_get_str(set, UInt16(NFTNL_SET_TABLE.rawValue)), String(cString: tableName) == table,
                let lowLevel = Self.setMetadata(set)
            else { return }
            out.append(lowLevel)
        }
        return out
    }

    /// Copies a parsed `nftnl_set`'s name, flags, types and key byte order (no elements). Shared
    /// with the change-event monitor, which parses `NFT_MSG_NEWSET` the same way.
    static func setMetadata(_ set: OpaquePointer) -> NFTLowLevelSet? {
        guard let name = nftnl_set_get_str(set, UInt16(NFTNL_SET_NAME.rawValue)) else { return nil }
        func u32(_ attribute: nftnl_set_attr) -> UInt32? {
            nftnl_set_is_set(set, UInt16(attribute.rawValue)) ? nftnl_set_get_u32(set, UInt16(attribute.rawValue)) : nil
        }
        var userData: [UInt8] = []
        var length: UInt32 = 0
        if nftnl_set_is_set(set, UInt16(NFTNL_SET_USERDATA.rawValue)),
            let data = nftnl_set_get_data(set, UInt16(NFTNL_SET_USERDATA.rawValue), &length)
        {
            userData = Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
        }
        let byteOrder = UserData.attribute(UInt8(NFTNL_UDATA_SET_KEYBYTEORDER.rawValue), in: userData).flatMap(UserData.u32)
        return NFTLowLevelSet(
            name: String(cString: name), flags: u32(NFTNL_SET_FLAGS) ?? 0, keyType: u32(NFTNL_SET_KEY_TYPE) ?? 0,
            keyLength: u32(NFTNL_SET_KEY_LEN) ?? 0, dataType: u32(NFTNL_SET_DATA_TYPE), dataLength: u32(NFTNL_SET_DATA_LEN),
            keyByteOrder: byteOrder)
    }

    private func elements(family: NFTFamily, table: String, set name: String, interner: StringInterner) throws(DataplaneError) -> [NFTLowLevelElement] {
        var out: [NFTLowLevelElement] = []
        try dump(.elements(table: table, set: name), family: family, operation: "list elements of \(name)") { header in
            guard let set = nftnl_set_alloc() else { return }
            defer { nftnl_set_free(set) }
            guard nftnl_set_elems_nlmsg_parse(header, set) >= 0 else { return }
            out += Self.elements(of: set, interner: interner)
        }
        return out
    }

    /// The elements of a parsed `nftnl_set` (a `NEWSETELEM` reply or event), copied out.
    static func elements(of set: OpaquePointer, interner: StringInterner) -> [NFTLowLevelElement] {
        guard let iterator = nftnl_set_elems_iter_create(set) else { return [] }
        defer { nftnl_set_elems_iter_destroy(iterator) }
        var out: [NFTLowLevelElement] = []
        // `iter_next` returns the current element and then advances.
        while let e = nftnl_set_elems_iter_next(iterator) {
            out.append(Self.element(e, interner: interner))
        }
        return out
    }

    static func element(_ e: OpaquePointer, interner: StringInterner) -> NFTLowLevelElement {
        func bytes(_ attribute: Int) -> [UInt8]? {
            guard nftnl_set_elem_is_set(e, UInt16(attribute)) else { return nil }
            var length: UInt32 = 0
            guard let data = nftnl_set_elem_get(e, UInt16(attribute), &length) else { return nil }
            return Array(UnsafeRawBufferPointer(start: data, count: Int(length)))
        }
        var element = NFTLowLevelElement(key: bytes(Int(NFTNL_SET_ELEM_KEY)) ?? [])
        element.data = bytes(Int(NFTNL_SET_ELEM_DATA))
        if nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_VERDICT)) {
            element.verdict = Int32(bitPattern: nftnl_set_elem_get_u32(e, UInt16(NFTNL_SET_ELEM_VERDICT)))
        }
        if nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_CHAIN)),
            let chain = nftnl_set_elem_get_str(e, UInt16(NFTNL_SET_ELEM_CHAIN))
        {
            element.chain = interner.intern(chain)
        }
        if nftnl_set_elem_is_set(e, UInt16(NFTNL_SET_ELEM_FLAGS)) {
            element.flags = nftnl_set_elem_get_u32(e, UInt16(NFTNL_SET_ELEM_FLAGS))
        }
        if let userData = bytes(Int(NFTNL_SET_ELEM_USERDATA)) {
            element.comment = UserData.attribute(UInt8(NFTNL_UDATA_SET_ELEM_COMMENT.rawValue), in: userData).map(UserData.string)
        }
        return element
    }
}

/// libnftnl user data: a sequence of `{u8 type; u8 length; value}` records.
enum UserData {
    static func attribute(_ type: UInt8, in data: [UInt8]) -> [UInt8]? {
        var i = 0
        while i + 2 <= data.count {
            let t = data[i]
            let length = Int(data[i + 1])
            guard i + 2 + length <= data.count else { return nil }
            if t == type { return Array(data[(i + 2)..<(i + 2 + length)]) }
            i += 2 + length
        }
        return nil
    }

    static func string(_ value: [UInt8]) -> String {
        String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func u32(_ value: [UInt8]) -> UInt32? {
        guard value.count == 4 else { return nil }
        return value.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    }
}
#endif

#if os(Linux)
/// What a dump with decoding skipped fetched: the kernel's floor for a full read.
public struct NFTablesRawDumpCounts: Sendable, Hashable {
    public var messages = 0
    public var bytes = 0
    public var sets = 0
}

extension NFTablesNetlinkDumper {
    /// Sends exactly the requests of ``table(family:name:)`` but decodes nothing beyond the chain
    /// and set names those requests need. With `wholeTable`, rules come in one table-wide dump as
    /// `nft` fetches them. Benchmarks use it as the floor.
    func rawCounts(family: NFTFamily, name table: String, wholeTable: Bool) throws(DataplaneError) -> NFTablesRawDumpCounts {
        var counts = NFTablesRawDumpCounts()
        func count(_ header: UnsafePointer<nlmsghdr>) {
            counts.messages += 1
            counts.bytes += Int(header.pointee.nlmsg_len)
        }
        var chainNames: [String] = []
        try dump(.chains(table: table), family: family, operation: "list chains") { header in
            count(header)
            // Chain names are needed for the per-chain rule requests, as in the real read.
            guard !wholeTable, let chain = nftnl_chain_alloc() else { return }
            defer { nftnl_chain_free(chain) }
            if nftnl_chain_nlmsg_parse(header, chain) >= 0, let name = nftnl_chain_get_str(chain, UInt16(NFTNL_CHAIN_NAME.rawValue)) {
                chainNames.append(String(cString: name))
            }
        }
        var setNames: [String] = []
        try dump(.sets(table: table), family: family, operation: "list sets") { header in
            count(header)
            guard let set = nftnl_set_alloc() else { return }
            defer { nftnl_set_free(set) }
            if nftnl_set_nlmsg_parse(header, set) >= 0, let name = nftnl_set_get_str(set, UInt16(NFTNL_SET_NAME.rawValue)) {
                setNames.append(String(cString: name))
            }
        }
        counts.sets = setNames.count
        for setName in setNames {
            try dump(.elements(table: table, set: setName), family: family, operation: "list elements") { count($0) }
        }
        for chainName in wholeTable ? [nil] : chainNames.map(Optional.some) {
            try dump(.rules(table: table, chain: chainName), family: family, operation: "list rules") { count($0) }
        }
        return counts
    }
}
#endif
