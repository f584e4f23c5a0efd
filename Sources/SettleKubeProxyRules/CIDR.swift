import SettleModel

/// A parsed CIDR block, as kube-proxy handles `loadBalancerSourceRanges`, pod CIDRs and Service
/// CIDRs: whitespace trimmed, printed as Go's `net.IPNet.String()` (network address, masked).
struct CIDR: Hashable, Sendable {
    var network: IPAddress
    var prefixLength: Int

    init?(_ text: String) {
        let trimmed = text.trimmingSpaces()
        guard let slash = trimmed.firstIndex(of: "/"),
            let address = IPAddress(trimmed[..<slash]),
            let length = Int(trimmed[trimmed.index(after: slash)...])
        else { return nil }
        let bits = address.family == .ipv4 ? 32 : 128
        guard (0...bits).contains(length) else { return nil }
        self.prefixLength = length
        self.network = Self.mask(address, length)
    }

    var family: IPAddress.Family { network.family }

    func contains(_ address: IPAddress) -> Bool {
        address.family == family && Self.mask(address, prefixLength) == network
    }

    var description: String { "\(network)/\(prefixLength)" }

    private static func mask(_ address: IPAddress, _ length: Int) -> IPAddress {
        switch address {
        case .v4(let v):
            let m: UInt32 = length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
            return .v4(v & m)
        case .v6(let high, let low):
            let mh: UInt64 = length == 0 ? 0 : (length >= 64 ? ~0 : ~UInt64(0) << UInt64(64 - length))
            let ml: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~UInt64(0) << UInt64(128 - length))
            return .v6(high: high & mh, low: low & ml)
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}

extension ProxyServicePort {
    /// The source ranges of one family, parsed; empty when any range is `/0` ("allow all"), as
    /// kube-proxy's `newBaseServiceInfo` filters them.
    func sourceRanges(for family: IPAddress.Family) -> [CIDR] {
        let parsed = loadBalancerSourceRanges.compactMap(CIDR.init).filter { $0.family == family }
        if parsed.contains(where: { $0.prefixLength == 0 }) { return [] }
        return parsed
    }
}
