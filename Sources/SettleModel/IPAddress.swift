/// An IPv4 or IPv6 address as a value, with kube-proxy's parsing and canonical printing.
///
/// Every component compares addresses through this type, so the spelling a source happens to use
/// (`10.001.2.3` in an API object, 16 raw bytes in netlink, `fd00::0:1` in a hand-written rule)
/// never decides whether two endpoints are the same.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    case v4(UInt32)
    case v6(high: UInt64, low: UInt64)

    public enum Family: String, Sendable, Hashable, Codable, CaseIterable {
        case ipv4 = "IPv4"
        case ipv6 = "IPv6"
    }

    public var family: Family {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// Parses a textual address. Like Go's `netutils.ParseIPSloppy`, IPv4 octets may carry leading
    /// zeros and are read as decimal. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) stays IPv6, as in Go.
    public init?(_ text: some StringProtocol) {
        let s = Substring(text)
        if s.contains(":") {
            guard let v6 = Self.parseV6(s) else { return nil }
            self = v6
        } else {
            guard let v4 = Self.parseV4(s) else { return nil }
            self = .v4(v4)
        }
    }

    /// Builds an address from network-order bytes: 4 for IPv4, 16 for IPv6.
    public init?(bytes: some Collection<UInt8>) {
        let b = Array(bytes)
        if b.count == 4 {
            self = .v4(b.reduce(0) { $0 << 8 | UInt32($1) })
        } else if b.count == 16 {
            let high = b[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = b[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            self = .v6(high: high, low: low)
        } else {
            return nil
        }
    }

    /// Network-order bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v):
            return (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) }
        case .v6(let high, let low):
            return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
        }
    }

    /// RFC 5952 text: dotted quad for IPv4; lower-case hex, longest zero run compressed, for IPv6.
    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        case .v6:
            let b = bytes
            let groups = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
            var bestStart = -1
            var bestLength = 0
            var i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > bestLength && j - i >= 2 {
                        bestStart = i
                        bestLength = j - i
                    }
                    i = j
                } else {
                    i += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    /// `[v6]:port` for IPv6, `v4:port` for IPv4, as kube-proxy and iptables spell endpoints.
    public func hostPort(_ port: Int) -> String {
        switch self {
        case .v4: "\(self):\(port)"
        case .v6: "[\(self)]:\(port)"
        }
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        case (.v6(let ah, let al), .v6(let bh, let bl)): (ah, al) < (bh, bl)
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an IP address: \(text)"))
        }
        self = address
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func parseV4(_ s: Substring) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    private static func doubleColon(in text: Substring) -> Range<Substring.Index>? {
        var i = text.startIndex
        while i < text.endIndex {
            let next = text.index(after: i)
            if next < text.endIndex, text[i] == ":", text[next] == ":" { return i..<text.index(after: next) }
            i = next
        }
        return nil
    }

    private static func parseV6(_ s: Substring) -> IPAddress? {
        var text = s
        // A zone (`%eth0`) never appears in Kubernetes objects or rules; reject it.
        if text.contains("%") { return nil }
        var tail: [UInt16] = []
        // Embedded IPv4 in the last 32 bits.
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseV4(text[text.index(after: lastColon)...]) else { return nil }
            tail = [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
            text = text[...lastColon]
            if text.hasSuffix("::") {
                // keep "::" so the split below sees the gap
            } else {
                text = text.dropLast()
            }
        }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        var all: [UInt16]
        if let range = doubleColon(in: text) {
            guard let head = groups(text[..<range.lowerBound]),
                let rest = groups(text[range.upperBound...]),
                doubleColon(in: text[range.upperBound...]) == nil
            else { return nil }
            let missing = 8 - head.count - rest.count - tail.count
            guard missing >= 1 else { return nil }
            all = head + Array(repeating: 0, count: missing) + rest + tail
        } else {
            guard let g = groups(text) else { return nil }
            all = g + tail
        }
        guard all.count == 8 else { return nil }
        var bytes: [UInt8] = []
        for g in all { bytes += [UInt8(g >> 8), UInt8(g & 0xff)] }
        return IPAddress(bytes: bytes)
    }
}
