#if os(Linux)
import CMNL
import Glibc
import SettleDataplane
import SettleModel

/// Lists the IPVS table over generic netlink, as `ipvsadm -Ln` does through libipvs: the `IPVS`
/// family's id (`CTRL_CMD_GETFAMILY`), one `IPVS_CMD_GET_SERVICE` dump, then one
/// `IPVS_CMD_GET_DEST` dump per virtual server. Messages are built with libmnl; replies are
/// decoded by the pure ``IPVSMessageDecoder``. Lives on the thread that made its socket.
struct IPVSNetlinkDumper {
    let socket: NetlinkSocket
    let family: UInt16

    /// The sentence for a kernel without IPVS: normal on nftables and iptables nodes.
    static let unavailable =
        "IPVS is not available in this kernel (no generic netlink family \"IPVS\": the ip_vs module is not loaded or "
        + "the kernel lacks CONFIG_IP_VS); that is normal on nodes where kube-proxy runs in nftables or iptables mode"

    /// `GENL_HDRLEN`: the `genlmsghdr` in front of every generic netlink message's attributes.
    static let genlHeaderLength = MemoryLayout<genlmsghdr>.size

    /// Opens a generic netlink socket and resolves the IPVS family; `.unsupported` without IPVS.
    init() throws(DataplaneError) {
        let socket = try NetlinkSocket(bus: NETLINK_GENERIC)
        guard let family = try Self.resolveFamily(socket: socket) else { throw .unsupported(Self.unavailable) }
        self.init(socket: socket, family: family)
    }

    init(socket: NetlinkSocket, family: UInt16) {
        self.socket = socket
        self.family = family
    }

    /// The `IPVS` family id, or `nil` when the kernel has no such family (`ENOENT`).
    static func resolveFamily(socket: NetlinkSocket) throws(DataplaneError) -> UInt16? {
        var family: UInt16?
        do throws(DataplaneError) {
            try socket.exchange(
                operation: "CTRL_CMD_GETFAMILY IPVS", dump: false,
                build: { buffer, seq in
                    let header = Self.header(buffer, type: UInt16(GENL_ID_CTRL), flags: NLM_F_REQUEST, seq: seq, command: UInt8(CTRL_CMD_GETFAMILY), version: 1)
                    mnl_attr_put_strz(header, UInt16(CTRL_ATTR_FAMILY_NAME), "IPVS")
                    return Int(header.pointee.nlmsg_len)
                },
                handle: { message in
                    Self.attributes(of: message) { raw in
                        family = NetlinkAttributes(raw).integer(UInt16(CTRL_ATTR_FAMILY_ID), as: UInt16.self)
                    }
                })
        } catch {
            if case .netlink(_, let code) = error, code == ENOENT { return nil }
            throw error
        }
        return family
    }

    /// Every virtual server with its destinations. A message that cannot be decoded is skipped and
    /// reported in `warnings`; a virtual server deleted between the two dumps is left out.
    func table() throws(DataplaneError) -> IPVSTable {
        var warnings: [String] = []
        var servers: [IPVSVirtualServer] = []
        try socket.exchange(
            operation: "IPVS_CMD_GET_SERVICE", dump: true,
            build: { buffer, seq in
                let header = Self.header(buffer, type: family, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: seq, command: UInt8(IPVS_CMD_GET_SERVICE), version: UInt8(IPVS_GENL_VERSION))
                return Int(header.pointee.nlmsg_len)
            },
            handle: { message in
                Self.attributes(of: message) { raw in
                    do throws(IPVSMessageDecoder.Skipped) {
                        servers.append(try IPVSMessageDecoder.service(attributes: raw))
                    } catch {
                        warnings.append(error.reason)
                    }
                }
            })
        var listed: [IPVSVirtualServer] = []
        listed.reserveCapacity(servers.count)
        for var server in servers {
            if server.firewallMark == 0 {
                do throws(DataplaneError) {
                    server.destinations = try destinations(of: server, warnings: &warnings)
                } catch {
                    // Deleted after the service dump (kube-proxy synced meanwhile): it is gone.
                    if case .netlink(_, let code) = error, code == ESRCH || code == ENOENT { continue }
                    throw error
                }
            }
            listed.append(server)
        }
        return IPVSTable(virtualServers: listed, warnings: warnings)
    }

    /// How many virtual servers there are (one service dump, nothing decoded beyond counting).
    func serviceCount() throws(DataplaneError) -> Int {
        var count = 0
        try socket.exchange(
            operation: "IPVS_CMD_GET_SERVICE", dump: true,
            build: { buffer, seq in
                let header = Self.header(buffer, type: family, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: seq, command: UInt8(IPVS_CMD_GET_SERVICE), version: UInt8(IPVS_GENL_VERSION))
                return Int(header.pointee.nlmsg_len)
            },
            handle: { _ in count += 1 })
        return count
    }

    /// The real servers of one virtual server (`IPVS_CMD_GET_DEST`, identified by family, protocol,
    /// address and port).
    func destinations(of server: IPVSVirtualServer, warnings: inout [String]) throws(DataplaneError) -> [IPVSDestination] {
        var found: [IPVSDestination] = []
        var skipped: [String] = []
        let family = self.family
        try socket.exchange(
            operation: "IPVS_CMD_GET_DEST \(server.description)", dump: true,
            build: { buffer, seq in
                let header = Self.header(buffer, type: family, flags: NLM_F_REQUEST | NLM_F_DUMP, seq: seq, command: UInt8(IPVS_CMD_GET_DEST), version: UInt8(IPVS_GENL_VERSION))
                let nest = mnl_attr_nest_start(header, UInt16(IPVS_CMD_ATTR_SERVICE))
                let af = server.address.family == .ipv4 ? IPVSMessageDecoder.afInet : IPVSMessageDecoder.afInet6
                mnl_attr_put_u16(header, UInt16(IPVS_SVC_ATTR_AF), af)
                mnl_attr_put_u16(header, UInt16(IPVS_SVC_ATTR_PROTOCOL), UInt16(server.protocol.number))
                var address = server.address.bytes + [UInt8](repeating: 0, count: 16 - server.address.bytes.count)
                mnl_attr_put(header, UInt16(IPVS_SVC_ATTR_ADDR), 16, &address)
                mnl_attr_put_u16(header, UInt16(IPVS_SVC_ATTR_PORT), UInt16(server.port).bigEndian)
                mnl_attr_nest_end(header, nest)
                return Int(header.pointee.nlmsg_len)
            },
            handle: { message in
                Self.attributes(of: message) { raw in
                    do throws(IPVSMessageDecoder.Skipped) {
                        found.append(try IPVSMessageDecoder.destination(attributes: raw, serviceFamily: server.address.family))
                    } catch {
                        skipped.append("\(error.reason) (virtual server \(server.description))")
                    }
                }
            })
        warnings += skipped
        return found
    }

    /// Puts a netlink header and a `genlmsghdr` into `buffer`.
    static func header(
        _ buffer: UnsafeMutablePointer<CChar>, type: UInt16, flags: Int32, seq: UInt32, command: UInt8, version: UInt8
    ) -> UnsafeMutablePointer<nlmsghdr> {
        let header = mnl_nlmsg_put_header(buffer)!
        header.pointee.nlmsg_type = type
        header.pointee.nlmsg_flags = UInt16(flags)
        header.pointee.nlmsg_seq = seq
        let genl = mnl_nlmsg_put_extra_header(header, genlHeaderLength)!.assumingMemoryBound(to: genlmsghdr.self)
        genl.pointee.cmd = command
        genl.pointee.version = version
        return header
    }

    /// Hands the attribute bytes after a message's `genlmsghdr` to `body` (nothing when the message
    /// is too short to hold one).
    static func attributes(of message: UnsafePointer<nlmsghdr>, _ body: (UnsafeRawBufferPointer) -> Void) {
        let payloadLength = Int(message.pointee.nlmsg_len) - MemoryLayout<nlmsghdr>.size
        guard payloadLength >= genlHeaderLength else { return }
        let payload = mnl_nlmsg_get_payload(message)!
        body(UnsafeRawBufferPointer(start: payload + genlHeaderLength, count: payloadLength - genlHeaderLength))
    }
}
#endif
