import SettleDataplane
import SettleModel
import Testing

/// Netlink attribute bytes as the kernel writes them: `u16 length, u16 type`, payload, padding to 4.
enum Attr {
    static func tlv(_ type: UInt16, _ payload: [UInt8], nested: Bool = false) -> [UInt8] {
        let length = UInt16(4 + payload.count)
        var out = withUnsafeBytes(of: length.littleEndian, Array.init) + withUnsafeBytes(of: (type | (nested ? 0x8000 : 0)).littleEndian, Array.init)
        out += payload
        while out.count % 4 != 0 { out.append(0) }
        return out
    }
    static func u16(_ type: UInt16, _ v: UInt16) -> [UInt8] { tlv(type, withUnsafeBytes(of: v.littleEndian, Array.init)) }
    static func be16(_ type: UInt16, _ v: UInt16) -> [UInt8] { tlv(type, withUnsafeBytes(of: v.bigEndian, Array.init)) }
    static func u32(_ type: UInt16, _ v: UInt32) -> [UInt8] { tlv(type, withUnsafeBytes(of: v.littleEndian, Array.init)) }
    static func address(_ type: UInt16, _ ip: String) -> [UInt8] {
        let bytes = IPAddress(ip)!.bytes
        return tlv(type, bytes + [UInt8](repeating: 0, count: 16 - bytes.count))
    }

    typealias S = IPVSMessageDecoder.ServiceAttribute
    typealias D = IPVSMessageDecoder.DestinationAttribute

    /// One `IPVS_CMD_GET_SERVICE` reply's attributes, as `ip_vs_genl_fill_service` writes them.
    static func service(_ ip: String, _ port: UInt16, proto: UInt16 = 6, scheduler: String = "rr", extra: [UInt8] = []) -> [UInt8] {
        let family: UInt16 = ip.contains(":") ? 10 : 2
        let body = u16(S.family, family) + u16(S.protocol, proto) + address(S.address, ip) + be16(S.port, port)
            + tlv(S.scheduler, Array(scheduler.utf8) + [0]) + tlv(S.flags, [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])
            + u32(S.timeout, 0) + u32(9, 0xffff_ffff) + tlv(10, u32(1, 0), nested: true) + extra
        return tlv(IPVSMessageDecoder.Command.service, body, nested: true)
    }

    /// One `IPVS_CMD_GET_DEST` reply's attributes, as `ip_vs_genl_fill_dest` writes them.
    static func destination(_ ip: String, _ port: UInt16, weight: UInt32, family: Bool = true, extra: [UInt8] = []) -> [UInt8] {
        var body = address(D.address, ip) + be16(D.port, port) + u32(D.forwarding, 0) + u32(D.weight, weight)
            + u32(5, 0) + u32(6, 0) + u32(D.activeConnections, 3) + u32(D.inactiveConnections, 1) + u32(9, 0)
        if family { body += u16(D.addressFamily, ip.contains(":") ? 10 : 2) }
        return tlv(IPVSMessageDecoder.Command.destination, body + extra, nested: true)
    }
}

/// The IPVS generic netlink attributes decoded from bytes, without a kernel: both families, the
/// weight that decides draining, and input that is cut short, malformed or unknown.
struct IPVSMessageDecoderTests {
    func service(_ bytes: [UInt8]) throws -> IPVSVirtualServer {
        try bytes.withUnsafeBytes { raw in try IPVSMessageDecoder.service(attributes: raw) }
    }

    func destination(_ bytes: [UInt8], _ family: IPAddress.Family = .ipv4) throws -> IPVSDestination {
        try bytes.withUnsafeBytes { raw in try IPVSMessageDecoder.destination(attributes: raw, serviceFamily: family) }
    }

    @Test("an IPv4 TCP service and an IPv6 UDP service, ports in network order")
    func services() throws {
        let v4 = try service(Attr.service("172.30.0.10", 80))
        #expect(v4 == IPVSVirtualServer(protocol: .tcp, address: IPAddress("172.30.0.10")!, port: 80, scheduler: "rr"))
        let v6 = try service(Attr.service("fd00:30::10", 53, proto: 17, scheduler: "wrr"))
        #expect(v6 == IPVSVirtualServer(protocol: .udp, address: IPAddress("fd00:30::10")!, port: 53, scheduler: "wrr"))
        let sctp = try service(Attr.service("172.30.0.70", 3868, proto: 132))
        #expect(sctp.protocol == .sctp && sctp.port == 3868)
    }

    @Test("destinations: weight, counters, IPv6, and the family taken from the service on old kernels")
    func destinations() throws {
        let d = try destination(Attr.destination("10.244.1.7", 8080, weight: 0))
        #expect(d == IPVSDestination(address: IPAddress("10.244.1.7")!, port: 8080, weight: 0, activeConnections: 3, inactiveConnections: 1))
        #expect(!d.takesNewConnections)
        let v6 = try destination(Attr.destination("fd00:244::7", 8443, weight: 2), .ipv6)
        #expect(v6.endpoint.description == "[fd00:244::7]:8443" && v6.takesNewConnections)
        let old = try destination(Attr.destination("fd00:244::8", 8443, weight: 1, family: false), .ipv6)
        #expect(old.address == IPAddress("fd00:244::8"))
    }

    @Test("unknown attribute types (newer kernels) are ignored")
    func unknownAttributes() throws {
        let s = try service(Attr.service("172.30.0.10", 80, extra: Attr.u32(99, 7) + Attr.tlv(12, [], nested: true)))
        #expect(s.address == IPAddress("172.30.0.10"))
        let d = try destination(Attr.destination("10.0.0.1", 80, weight: 1, extra: Attr.u32(13, 0) + Attr.u32(120, 1)))
        #expect(d.weight == 1)
    }

    @Test("a firewall-mark service is decoded as such (the snapshot skips it with a warning)")
    func firewallMark() throws {
        let body = Attr.u16(Attr.S.family, 2) + Attr.u32(Attr.S.firewallMark, 7) + Attr.tlv(Attr.S.scheduler, Array("rr".utf8) + [0])
        let s = try service(Attr.tlv(1, body, nested: true))
        #expect(s.firewallMark == 7)
        let snapshot = IPVSTable(virtualServers: [s]).snapshot()
        #expect(snapshot.servicePorts.isEmpty)
        #expect(snapshot.warnings == ["IPVS firewall-mark virtual server 7 skipped: kube-proxy does not program them"])
    }

    @Test("truncated, missing and wrongly sized attributes are skipped with a reason")
    func malformed() {
        let full = Attr.service("172.30.0.10", 80)
        for cut in [3, 6, 10, full.count - 5] {
            #expect(throws: IPVSMessageDecoder.Skipped.self, "cut at \(cut)") { try service(Array(full.prefix(cut))) }
        }
        #expect(throws: IPVSMessageDecoder.Skipped("IPVS service message without its service attribute skipped")) {
            try service(Attr.u32(3, 1))
        }
        let noPort = Attr.tlv(1, Attr.u16(Attr.S.family, 2) + Attr.u16(Attr.S.protocol, 6) + Attr.address(Attr.S.address, "10.0.0.1"), nested: true)
        #expect(throws: IPVSMessageDecoder.Skipped("IPVS service TCP 10.0.0.1 without a port")) { try service(noPort) }
        let shortAddress = Attr.tlv(1, Attr.u16(Attr.S.family, 10) + Attr.u16(Attr.S.protocol, 6) + Attr.tlv(Attr.S.address, [1, 2, 3, 4]) + Attr.be16(Attr.S.port, 80), nested: true)
        #expect(throws: IPVSMessageDecoder.Skipped("IPVS service message without a valid address skipped")) { try service(shortAddress) }
        let icmp = Attr.service("10.0.0.1", 0, proto: 1)
        #expect(throws: IPVSMessageDecoder.Skipped("IPVS service of IP protocol 1 skipped: Kubernetes Services use TCP, UDP and SCTP")) { try service(icmp) }
        let wideWeight = Attr.tlv(2, Attr.address(1, "10.0.0.1") + Attr.be16(2, 80) + Attr.u16(Attr.D.weight, 1), nested: true)
        #expect(throws: IPVSMessageDecoder.Skipped("IPVS destination 10.0.0.1:80 without a weight")) { try destination(wideWeight) }
    }

    /// Random corruptions of real-shaped messages never crash or read out of bounds: each is
    /// either decoded or skipped.
    @Test("10,000 random corruptions: decoded or skipped, never a crash")
    func fuzz() {
        var rng = SplitMix64(seed: 6)
        let samples = [Attr.service("172.30.0.10", 80), Attr.service("fd00::1", 443), Attr.destination("10.1.2.3", 80, weight: 1), Attr.destination("fd00::2", 1, weight: 0)]
        var decoded = 0
        var skipped = 0
        for i in 0..<10_000 {
            var bytes = samples[i % samples.count]
            switch rng.next() % 3 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
            case 1: for _ in 0..<(1 + rng.next() % 4) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            default: bytes += (0..<(rng.next() % 9)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            do {
                if i % samples.count < 2 { _ = try service(bytes) } else { _ = try destination(bytes) }
                decoded += 1
            } catch {
                skipped += 1
            }
        }
        #expect(decoded > 0 && skipped > 0 && decoded + skipped == 10_000)
    }

    @Test("NetlinkAttributes: the last attribute's padding may be absent; a partial header is truncation")
    func attributeBounds() {
        let unpadded = Array(Attr.tlv(1, [1, 2]).prefix(6))
        unpadded.withUnsafeBytes { raw in
            let a = NetlinkAttributes(raw)
            #expect(!a.truncated && a[1]?.count == 2)
        }
        (Attr.u32(1, 5) + [0, 0]).withUnsafeBytes { raw in #expect(NetlinkAttributes(raw).truncated) }
        ([8, 0, 1, 0, 1] as [UInt8]).withUnsafeBytes { raw in #expect(NetlinkAttributes(raw).truncated) }
        ([2, 0, 1, 0] as [UInt8]).withUnsafeBytes { raw in #expect(NetlinkAttributes(raw).truncated) }
    }
}

/// Virtual servers named through the Services' frontends, and listed raw without them.
struct IPVSSnapshotTests {
    static let web = ServicePortName(namespace: "shop", name: "web", port: "http")
    static let dns = ServicePortName(namespace: "kube-system", name: "kube-dns", port: "dns")

    static func vs(_ proto: L4Protocol, _ ip: String, _ port: Int, _ dests: [(String, Int, Int32)]) -> IPVSVirtualServer {
        IPVSVirtualServer(
            protocol: proto, address: IPAddress(ip)!, port: port,
            destinations: dests.map { IPVSDestination(address: IPAddress($0.0)!, port: $0.1, weight: $0.2) })
    }

    static let table = IPVSTable(virtualServers: [
        vs(.tcp, "172.30.0.10", 80, [("10.244.1.7", 8080, 1), ("10.244.2.9", 8080, 0)]),
        vs(.tcp, "fd00:30::10", 80, [("fd00:244::7", 8080, 1)]),
        vs(.tcp, "192.168.0.5", 30080, [("10.244.1.7", 8080, 1), ("10.244.2.9", 8080, 0)]),
        vs(.tcp, "10.0.0.5", 30080, [("10.244.1.7", 8080, 1), ("10.244.3.3", 8080, 1)]),
        vs(.udp, "172.30.0.53", 53, [("10.244.0.5", 53, 1)]),
        vs(.udp, "172.30.0.10", 80, [("10.244.0.9", 80, 1)]),  // same address and port, other protocol: not web
        vs(.tcp, "172.30.9.9", 443, [("10.244.9.9", 443, 1)]),
    ])

    static let names = IPVSServiceNames([
        (name: web, protocol: L4Protocol.tcp, frontends: [
            Frontend(kind: .clusterIP, ip: IPAddress("172.30.0.10"), port: 80), Frontend(kind: .clusterIP, ip: IPAddress("fd00:30::10"), port: 80),
            Frontend(kind: .nodePort, ip: nil, port: 30080),
        ]),
        (name: dns, protocol: .udp, frontends: [Frontend(kind: .clusterIP, ip: IPAddress("172.30.0.53"), port: 53)]),
    ])

    @Test("named: one entry per service port, frontends of every family and node address, weight 0 left out")
    func named() throws {
        let snapshot = Self.table.snapshot(names: Self.names, boundAddresses: [IPAddress("172.30.9.9")!])
        #expect(snapshot.mode == .ipvs && snapshot.servicePorts.count == 4)
        let web = try #require(snapshot.servicePorts.first { $0.name == Self.web })
        #expect(web.frontends.map(\.description) == [
            "clusterIP 172.30.0.10:80", "clusterIP [fd00:30::10]:80", "nodePort 10.0.0.5:30080", "nodePort 192.168.0.5:30080",
        ])
        #expect(web.endpoints.map(\.description) == ["10.244.1.7:8080", "10.244.3.3:8080", "[fd00:244::7]:8080"])
        let dns = try #require(snapshot.servicePorts.first { $0.name == Self.dns })
        #expect(dns.endpoints.map(\.description) == ["10.244.0.5:53"])
        let unnamed = snapshot.servicePorts.filter { $0.service == nil }
        #expect(Set(unnamed.map { $0.frontends.map(\.description) }) == [["nodePort 172.30.0.10:80"], ["clusterIP 172.30.9.9:443"]])
        #expect(Set(unnamed.map(\.identity)).count == 2)
    }

    @Test("raw: every virtual server alone, kind from kube-ipvs0's addresses, distinct identities")
    func raw() {
        let snapshot = Self.table.snapshot(boundAddresses: [IPAddress("172.30.0.10")!, IPAddress("fd00:30::10")!, IPAddress("172.30.0.53")!])
        #expect(snapshot.servicePorts.count == 7)
        #expect(snapshot.servicePorts.allSatisfy { $0.service == nil && $0.port == "" && $0.frontends.count == 1 })
        #expect(Set(snapshot.servicePorts.map(\.identity)).count == 7)
        let kinds = Dictionary(uniqueKeysWithValues: snapshot.servicePorts.map { ($0.identity, $0.frontends[0].kind) })
        #expect(kinds.values.filter { $0 == .clusterIP }.count == 4)  // 172.30.0.10 TCP and UDP, fd00:30::10, 172.30.0.53
        #expect(kinds.values.filter { $0 == .nodePort }.count == 3)
    }

    @Test("two service ports claiming one frontend: the first by name keeps it, whatever the input order")
    func conflicts() {
        let a = ServicePortName(namespace: "a", name: "x", port: "")
        let b = ServicePortName(namespace: "b", name: "x", port: "")
        let f = [Frontend(kind: .clusterIP, ip: IPAddress("10.0.0.1"), port: 80)]
        let one = IPVSServiceNames([(name: b, protocol: L4Protocol.tcp, frontends: f), (name: a, protocol: .tcp, frontends: f)])
        let two = IPVSServiceNames([(name: a, protocol: L4Protocol.tcp, frontends: f), (name: b, protocol: .tcp, frontends: f)])
        let server = Self.vs(.tcp, "10.0.0.1", 80, [])
        #expect(one.name(of: server)?.name == a && two.name(of: server)?.name == a)
    }
}
