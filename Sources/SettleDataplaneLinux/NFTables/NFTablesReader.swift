#if os(Linux)
import CMNL
import Foundation
public import SettleDataplane
public import SettleModel

/// Reads kube-proxy's nftables tables (`ip kube-proxy`, `ip6 kube-proxy`) from the kernel.
///
/// The default path dumps them over netlink and decodes the messages with libnftnl; the
/// `libnftables` path asks nft's own library for JSON. Both produce ``NFTRuleset``; tests read
/// both and require equal results. The netlink read is checked against the ruleset generation
/// before and after, and repeated when kube-proxy committed a transaction in between, so a
/// snapshot never mixes two syncs.
public struct NFTablesReader: DataplaneReader {
    public enum Path: String, Sendable, CaseIterable {
        case netlink
        case libnftables
    }

    public let netns: String?
    public let path: Path
    public var mode: DataplaneMode { .nftables }

    public init(netns: String? = nil, path: Path = .netlink) {
        self.netns = netns
        self.path = path
    }

    public func read() async throws(DataplaneError) -> DataplaneSnapshot {
        let started = ContinuousClock.now
        let ruleset = try await readRuleset()
        let readTime = ContinuousClock.now - started
        var snapshot = ruleset.kubeProxySnapshot()
        if ProcessInfo.processInfo.environment["SETTLE_TIMING"] != nil {
            FileHandle.standardError.write(Data("note: netlink+decode \(readTime), walk \(ContinuousClock.now - started - readTime)\n".utf8))
        }
        if ruleset.tables.isEmpty {
            snapshot.warnings.insert("no kube-proxy nftables tables (ip/ip6 kube-proxy) found", at: 0)
        }
        return snapshot
    }

    /// kube-proxy's tables as the chosen path decodes them (only kube-proxy's; others are not read).
    public func readRuleset() async throws(DataplaneError) -> NFTRuleset {
        if let netns { try NetworkNamespace.validate(netns) }
        let path = self.path
        return try await NetworkNamespace.run(in: netns) { () throws(DataplaneError) -> NFTRuleset in
            switch path {
            case .netlink: try Self.readNetlink()
            case .libnftables: try Self.readLibNFTables()
            }
        }
    }

    /// Whether kube-proxy's nftables tables exist, and how many service entries they hold; a
    /// cheap probe (tables and one map, no rules) for `--mode auto`.
    public static func probe(netns: String?) async throws(DataplaneError) -> Bool {
        if let netns { try NetworkNamespace.validate(netns) }
        return try await NetworkNamespace.run(in: netns) { () throws(DataplaneError) -> Bool in
            let socket = try NetlinkSocket(bus: NETLINK_NETFILTER)
            return try NFTablesNetlinkDumper(socket: socket).tables().contains {
                $0.name == NFTRuleset.kubeProxyTable && ($0.family == .ip || $0.family == .ip6)
            }
        }
    }

    static func readNetlink() throws(DataplaneError) -> NFTRuleset {
        let socket = try NetlinkSocket(bus: NETLINK_NETFILTER)
        let dumper = NFTablesNetlinkDumper(socket: socket)
        var lastError: DataplaneError?
        for _ in 0..<5 {
            do throws(DataplaneError) {
                let before = try dumper.generation()
                var tables: [NFTTable] = []
                for (family, name) in try dumper.tables()
                where name == NFTRuleset.kubeProxyTable && (family == .ip || family == .ip6) {
                    tables.append(try dumper.table(family: family, name: name))
                }
                guard try dumper.generation() == before else { continue }
                return NFTRuleset(tables: tables.sorted { $0.family < $1.family })
            } catch {
                // An interrupted dump means a commit raced the read: try again.
                guard case .netlink(_, let code) = error, code == EINTR else { throw error }
                lastError = error
            }
        }
        throw lastError ?? .netlink(operation: "consistent read (the ruleset kept changing)", errno: EAGAIN)
    }

    static func readLibNFTables() throws(DataplaneError) -> NFTRuleset {
        let nft = try LibNFTablesJSON()
        let listing = try NFTablesJSONDecoder.decode([try nft.run("list tables")])
        var documents: [Data] = []
        for table in listing.tables where table.name == NFTRuleset.kubeProxyTable && (table.family == .ip || table.family == .ip6) {
            documents.append(try nft.run("list table \(table.family.name) \(table.name)"))
        }
        let ruleset = try NFTablesJSONDecoder.decode(documents)
        return NFTRuleset(tables: ruleset.tables.sorted { $0.family < $1.family })
    }
}
#endif

#if os(Linux)
extension NFTablesReader {
    /// Dumps kube-proxy's tables with the netlink path's requests but no decoding: the floor a
    /// full read cannot go below. For benchmarks.
    public static func rawDump(netns: String?, wholeTable: Bool = false) async throws(DataplaneError) -> NFTablesRawDumpCounts {
        if let netns { try NetworkNamespace.validate(netns) }
        return try await NetworkNamespace.run(in: netns) { () throws(DataplaneError) -> NFTablesRawDumpCounts in
            let socket = try NetlinkSocket(bus: NETLINK_NETFILTER)
            let dumper = NFTablesNetlinkDumper(socket: socket)
            _ = try dumper.generation()
            var total = NFTablesRawDumpCounts()
            for (family, name) in try dumper.tables() where name == NFTRuleset.kubeProxyTable && (family == .ip || family == .ip6) {
                let c = try dumper.rawCounts(family: family, name: name, wholeTable: wholeTable)
                total.messages += c.messages
                total.bytes += c.bytes
                total.sets += c.sets
            }
            _ = try dumper.generation()
            return total
        }
    }
}
#endif
