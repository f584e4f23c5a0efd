#if os(Linux)
import CMNL
import Foundation
public import SettleDataplane
public import SettleModel

/// Reads kube-proxy's IPVS-mode dataplane: the kernel's IPVS table over generic netlink
/// (``IPVSNetlinkDumper``), and the addresses of kube-proxy's `kube-ipvs0` dummy interface.
///
/// IPVS names nothing, so virtual servers are named from the Services' frontends when `names`
/// gives them (``IPVSServiceNames``; `settle check`, the agent) and listed with `service: null`
/// otherwise (`settle dataplane --mode ipvs`). A real server with weight 0 is draining and not
/// routed. There is no ruleset generation to check: kube-proxy's IPVS syncs are not atomic either
/// (it adds and removes servers one call at a time), so a read shows the table as it stood while
/// being read; a virtual server deleted between the two dumps is left out.
public struct IPVSReader: DataplaneReader {
    /// kube-proxy's dummy interface holding every ClusterIP, external IP and LB IP it serves.
    public static let interfaceName = "kube-ipvs0"

    public let netns: String?
    /// The current Services' frontends, asked at every read; `nil` (or a `nil` answer) lists every
    /// virtual server unnamed.
    public let names: (@Sendable () async -> IPVSServiceNames?)?
    public var mode: DataplaneMode { .ipvs }

    public init(netns: String? = nil, names: (@Sendable () async -> IPVSServiceNames?)? = nil) {
        self.netns = netns
        self.names = names
    }

    /// A reader naming virtual servers from a fixed set of Services (`settle check`).
    public init(netns: String? = nil, fixedNames: IPVSServiceNames) {
        self.init(netns: netns, names: { fixedNames })
    }

    /// One read: the table and the addresses bound to `kube-ipvs0` (empty when it does not exist).
    public struct Dump: Sendable {
        public var table: IPVSTable
        public var boundAddresses: Set<IPAddress>
        public var hasInterface: Bool
    }

    public func read() async throws(DataplaneError) -> DataplaneSnapshot {
        let dump = try await readTable()
        let names = await names?() ?? .none
        var snapshot = dump.table.snapshot(names: names, boundAddresses: dump.boundAddresses)
        if dump.table.virtualServers.isEmpty {
            snapshot.warnings.insert(
                "no IPVS virtual servers found" + (dump.hasInterface ? "" : " and no \(Self.interfaceName) interface: is kube-proxy running in IPVS mode here?"),
                at: 0)
        }
        return snapshot
    }

    /// The raw table, read on a thread inside the namespace.
    public func readTable() async throws(DataplaneError) -> Dump {
        if let netns { try NetworkNamespace.validate(netns) }
        return try await NetworkNamespace.run(in: netns) { () throws(DataplaneError) -> Dump in
            let table = try IPVSNetlinkDumper().table()
            let (hasInterface, addresses) = Self.interfaceAddresses(Self.interfaceName)
            return Dump(table: table, boundAddresses: addresses, hasInterface: hasInterface)
        }
    }

    /// What `--mode auto` looks at: whether IPVS is present with virtual servers, and whether
    /// `kube-ipvs0` exists. Never throws for a kernel without IPVS (that is an answer: no).
    public struct Probe: Sendable, Hashable {
        public var available: Bool
        public var virtualServers: Int
        public var hasInterface: Bool

        /// kube-proxy in IPVS mode: its interface, or virtual servers (the interface can be missing
        /// in a namespace that only carries the table).
        public var looksLikeKubeProxy: Bool { hasInterface || virtualServers > 0 }
    }

    public static func probe(netns: String?) async throws(DataplaneError) -> Probe {
        if let netns { try NetworkNamespace.validate(netns) }
        return try await NetworkNamespace.run(in: netns) { () throws(DataplaneError) -> Probe in
            let hasInterface = if_nametoindex(interfaceName) != 0
            let socket = try NetlinkSocket(bus: NETLINK_GENERIC)
            guard let family = try IPVSNetlinkDumper.resolveFamily(socket: socket) else {
                return Probe(available: false, virtualServers: 0, hasInterface: hasInterface)
            }
            let count = try IPVSNetlinkDumper(socket: socket, family: family).serviceCount()
            return Probe(available: true, virtualServers: count, hasInterface: hasInterface)
        }
    }

    /// Whether this kernel (in this namespace) has IPVS; for tests and diagnostics.
    public static func isAvailable(netns: String? = nil) async -> Bool {
        (try? await probe(netns: netns))?.available ?? false
    }

    /// Whether an interface of that name exists on the calling thread's namespace, and its addresses.
    static func interfaceAddresses(_ name: String) -> (exists: Bool, addresses: Set<IPAddress>) {
        guard if_nametoindex(name) != 0 else { return (false, []) }
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return (true, []) }
        defer { freeifaddrs(first) }
        var addresses: Set<IPAddress> = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr, String(cString: entry.pointee.ifa_name) == name else { continue }
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                let bytes = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) } }
                if let address = IPAddress(bytes: bytes) { addresses.insert(address) }
            case AF_INET6:
                let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) } }
                if let address = IPAddress(bytes: bytes) { addresses.insert(address) }
            default:
                continue
            }
        }
        return (true, addresses)
    }
}
#endif
