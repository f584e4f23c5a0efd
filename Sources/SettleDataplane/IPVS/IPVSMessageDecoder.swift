public import SettleModel

/// Netlink attributes (`struct nlattr`: u16 length, u16 type, payload padded to 4 bytes), read
/// with bounds checks: an attribute whose length runs past its buffer or is shorter than its own
/// header ends the list and sets ``truncated``; nothing is read out of bounds.
public struct NetlinkAttributes {
    /// `NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`: flag bits of the type field, not part of the type.
    static let typeMask: UInt16 = 0x3fff

    /// Payload per attribute type (the last one of a type wins, as the kernel's `nla_parse` does).
    public private(set) var payloads: [UInt16: UnsafeRawBufferPointer] = [:]
    public private(set) var truncated = false

    public init(_ buffer: UnsafeRawBufferPointer) {
        var offset = 0
        while buffer.count - offset >= 4 {
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & Self.typeMask
            guard length >= 4, length <= buffer.count - offset else {
                truncated = true
                return
            }
            payloads[type] = UnsafeRawBufferPointer(rebasing: buffer[(offset + 4)..<(offset + length)])
            offset += (length + 3) & ~3
        }
        // 1–3 bytes left over: a partial header. (The last attribute's padding may be left out, so
        // `offset` can pass the end; that is fine.)
        if buffer.count - offset > 0 { truncated = true }
    }

    public subscript(type: UInt16) -> UnsafeRawBufferPointer? { payloads[type] }

    /// A host-order integer attribute of exactly `T`'s size; `nil` when absent or of another size.
    public func integer<T: FixedWidthInteger>(_ type: UInt16, as: T.Type = T.self) -> T? {
        guard let payload = payloads[type], payload.count == MemoryLayout<T>.size else { return nil }
        return payload.loadUnaligned(as: T.self)
    }
}

/// Decodes the generic netlink messages of the IPVS family into ``IPVSVirtualServer`` and
/// ``IPVSDestination``: pure, fed the attribute bytes that follow a reply's `genlmsghdr`.
///
/// Attribute numbers and layouts are the kernel ABI of `linux/ip_vs.h` (reference §3.1): ports
/// are network order, every other scalar host order, addresses 16 bytes (`nf_inet_addr`, IPv4 in
/// the first 4). A message that is truncated, lacks an attribute the answer depends on, or holds
/// one of the wrong size is skipped with a reason (``Skipped``), never guessed; attributes of types
/// this decoder does not know (newer kernels add some) are ignored.
public enum IPVSMessageDecoder {
    /// `IPVS_CMD_ATTR_*`
    public enum Command {
        public static let service: UInt16 = 1
        public static let destination: UInt16 = 2
    }

    /// `IPVS_SVC_ATTR_*`
    public enum ServiceAttribute {
        public static let family: UInt16 = 1
        public static let `protocol`: UInt16 = 2
        public static let address: UInt16 = 3
        public static let port: UInt16 = 4
        public static let firewallMark: UInt16 = 5
        public static let scheduler: UInt16 = 6
        public static let flags: UInt16 = 7
        public static let timeout: UInt16 = 8
    }

    /// `IPVS_DEST_ATTR_*`
    public enum DestinationAttribute {
        public static let address: UInt16 = 1
        public static let port: UInt16 = 2
        public static let forwarding: UInt16 = 3
        public static let weight: UInt16 = 4
        public static let activeConnections: UInt16 = 7
        public static let inactiveConnections: UInt16 = 8
        public static let addressFamily: UInt16 = 11
    }

    /// `AF_INET`, `AF_INET6` on Linux.
    public static let afInet: UInt16 = 2
    public static let afInet6: UInt16 = 10

    /// Why a message was skipped; the reader turns it into a warning.
    public struct Skipped: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    /// One `IPVS_CMD_GET_SERVICE` reply: its nested `IPVS_CMD_ATTR_SERVICE`. The virtual server has
    /// no destinations yet.
    public static func service(attributes: UnsafeRawBufferPointer) throws(Skipped) -> IPVSVirtualServer {
        let nested = try nested(Command.service, of: attributes, what: "service")
        let a = ServiceAttribute.self
        guard let family = nested.integer(a.family, as: UInt16.self) else { throw Skipped("IPVS service message without an address family") }
        guard family == afInet || family == afInet6 else { throw Skipped("IPVS service of address family \(family) skipped") }
        let scheduler = nested[a.scheduler].map(cString) ?? ""
        // `struct ip_vs_flags { u32 flags; u32 mask; }`
        let flags = nested[a.flags].flatMap { $0.count == 8 ? $0.loadUnaligned(as: UInt32.self) : nil } ?? 0
        let timeout = nested.integer(a.timeout, as: UInt32.self) ?? 0
        if let mark = nested.integer(a.firewallMark, as: UInt32.self), mark != 0 {
            // Address and port are not set for a firewall-mark service; the protocol may not be either.
            return IPVSVirtualServer(
                protocol: nested.integer(a.protocol, as: UInt16.self).flatMap { L4Protocol(number: UInt8(truncatingIfNeeded: $0)) } ?? .tcp,
                address: family == afInet ? .v4(0) : .v6(high: 0, low: 0), port: 0, firewallMark: mark,
                scheduler: scheduler, flags: flags, timeout: timeout)
        }
        guard let number = nested.integer(a.protocol, as: UInt16.self) else { throw Skipped("IPVS service message without a protocol") }
        guard number <= UInt8.max, let proto = L4Protocol(number: UInt8(number)) else {
            throw Skipped("IPVS service of IP protocol \(number) skipped: Kubernetes Services use TCP, UDP and SCTP")
        }
        let address = try address(nested[a.address], family: family, what: "service")
        guard let port = nested.integer(a.port, as: UInt16.self) else {
            throw Skipped("IPVS service \(proto.rawValue) \(address) without a port")
        }
        return IPVSVirtualServer(
            protocol: proto, address: address, port: Int(UInt16(bigEndian: port)), scheduler: scheduler, flags: flags,
            timeout: timeout)
    }

    /// One `IPVS_CMD_GET_DEST` reply: its nested `IPVS_CMD_ATTR_DEST`. `serviceFamily` is used when
    /// the message has no `IPVS_DEST_ATTR_ADDR_FAMILY` (kernels before 3.18).
    public static func destination(attributes: UnsafeRawBufferPointer, serviceFamily: IPAddress.Family) throws(Skipped) -> IPVSDestination {
        let nested = try nested(Command.destination, of: attributes, what: "destination")
        let a = DestinationAttribute.self
        let family = nested.integer(a.addressFamily, as: UInt16.self) ?? (serviceFamily == .ipv4 ? afInet : afInet6)
        guard family == afInet || family == afInet6 else { throw Skipped("IPVS destination of address family \(family) skipped") }
        let address = try address(nested[a.address], family: family, what: "destination")
        guard let port = nested.integer(a.port, as: UInt16.self) else { throw Skipped("IPVS destination \(address) without a port") }
        guard let weight = nested.integer(a.weight, as: UInt32.self) else {
            throw Skipped("IPVS destination \(address.hostPort(Int(UInt16(bigEndian: port)))) without a weight")
        }
        return IPVSDestination(
            address: address, port: Int(UInt16(bigEndian: port)), weight: Int32(bitPattern: weight),
            forwarding: (nested.integer(a.forwarding, as: UInt32.self) ?? 0) & 0x7,
            activeConnections: nested.integer(a.activeConnections, as: UInt32.self) ?? 0,
            inactiveConnections: nested.integer(a.inactiveConnections, as: UInt32.self) ?? 0)
    }

    static func nested(_ type: UInt16, of buffer: UnsafeRawBufferPointer, what: String) throws(Skipped) -> NetlinkAttributes {
        let top = NetlinkAttributes(buffer)
        guard let payload = top[type] else {
            throw Skipped(top.truncated ? "truncated IPVS \(what) message skipped" : "IPVS \(what) message without its \(what) attribute skipped")
        }
        let nested = NetlinkAttributes(payload)
        if nested.truncated { throw Skipped("truncated IPVS \(what) attribute skipped") }
        return nested
    }

    static func address(_ payload: UnsafeRawBufferPointer?, family: UInt16, what: String) throws(Skipped) -> IPAddress {
        // The kernel sends the whole 16-byte union; accept exactly 4 for IPv4 too.
        let count = family == afInet ? 4 : 16
        guard let payload, payload.count == 16 || (family == afInet && payload.count == 4),
            let address = IPAddress(bytes: payload.prefix(count))
        else { throw Skipped("IPVS \(what) message without a valid address skipped") }
        return address
    }

    /// A NUL-terminated string attribute (or the whole payload when no NUL).
    static func cString(_ payload: UnsafeRawBufferPointer) -> String {
        let bytes = payload.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}
