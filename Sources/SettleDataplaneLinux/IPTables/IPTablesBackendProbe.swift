#if os(Linux)
import CMNL
import Foundation
import SettleDataplane

/// A cheap look at which iptables backend holds kube-proxy's rules, without running a `*-save` tool.
///
/// iptables-nft keeps its rules in nf_tables tables named after the iptables tables (`nat`, `filter`,
/// `mangle`) in families `ip` and `ip6`, so one table listing and a chain listing per table over netlink
/// (milliseconds, no rules) tell whether the nft backend holds `KUBE-SERVICES` and kubelet's hint chains.
/// iptables-legacy lists its loaded tables in `/proc/net/ip_tables_names` and `ip6_tables_names` (what
/// `iptables-legacy-save` itself reads; reading them creates nothing), so an empty or absent list proves
/// the legacy backend holds nothing.
struct IPTablesBackendProbe: Sendable {
    /// An nf_tables `nat` or `filter` table of family `ip` or `ip6` holds a `KUBE-SERVICES` chain.
    var nftHasKubeProxyChains: Bool
    /// An nf_tables `mangle` table of family `ip` or `ip6` holds one of ``IPTablesReader/hintChains``.
    var nftHasHintChains: Bool
    /// The legacy backend has at least one table loaded (IPv4 or IPv6), or its lists could not be read.
    var legacyMayHoldRules: Bool

    /// Probes the namespace (or the caller's); `nil` when netlink could not be read (no permission,
    /// nf_tables unavailable), in which case callers fall back to running the tools.
    static func run(netns: String?) async -> IPTablesBackendProbe? {
        try? await NetworkNamespace.run(in: netns) { () throws(DataplaneError) -> IPTablesBackendProbe in
            let socket = try NetlinkSocket(bus: NETLINK_NETFILTER)
            let dumper = NFTablesNetlinkDumper(socket: socket)
            var chains: [String: Set<String>] = [:]  // table name -> chain names, ip and ip6 together
            for (family, name) in try dumper.tables()
            where (family == .ip || family == .ip6) && ["nat", "filter", "mangle"].contains(name) {
                chains[name, default: []].formUnion(try dumper.chainNames(family: family, table: name))
            }
            let kube = (chains["nat"] ?? []).contains("KUBE-SERVICES") || (chains["filter"] ?? []).contains("KUBE-SERVICES")
            let hints = IPTablesReader.hintChains.contains { (chains["mangle"] ?? []).contains($0) }
            // /proc/thread-self: this thread is the one that entered the namespace.
            let legacy = ["ip_tables_names", "ip6_tables_names"].contains { file in
                let path = "/proc/thread-self/net/\(file)"
                guard FileManager.default.fileExists(atPath: path) else { return false }
                guard let data = FileManager.default.contents(atPath: path) else { return true }
                return !data.allSatisfy { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: " ") }
            }
            return IPTablesBackendProbe(nftHasKubeProxyChains: kube, nftHasHintChains: hints, legacyMayHoldRules: legacy)
        }
    }
}
#endif
