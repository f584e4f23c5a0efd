public import SettleModel

/// An `-s`/`-d` match as `iptables-save` prints it: `10.0.0.1/32`, `fd00::1/128`, `! 10.244.0.0/16`.
public struct IPTablesAddressMatch: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: Int
    public var negated: Bool

    public init(address: IPAddress, prefixLength: Int, negated: Bool = false) {
        self.address = address
        self.prefixLength = prefixLength
        self.negated = negated
    }

    /// Parses `ADDR` or `ADDR/LEN` (a dotted netmask is not accepted; `iptables-save` prints lengths).
    public init?(parsing text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(parts[0]) else { return nil }
        let maximum = address.family == .ipv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard let l = Int(parts[1]), (0...maximum).contains(l) else { return nil }
            length = l
        }
        self.init(address: address, prefixLength: length)
    }

    /// Whether the match names exactly one address (`/32` or `/128`, not negated).
    public var singleAddress: IPAddress? {
        guard !negated, prefixLength == (address.family == .ipv4 ? 32 : 128) else { return nil }
        return address
    }

    public var description: String { "\(negated ? "! " : "")\(address)/\(prefixLength)" }
}
