/// A transport protocol a Service port can use.
///
/// Raw values are the spellings of the Kubernetes API (`TCP`, `UDP`, `SCTP`); kube-proxy's chain
/// names and nftables use the lower-case form, netlink the IANA protocol number.
public enum L4Protocol: String, Codable, Sendable, Hashable, CaseIterable, Comparable {
    case tcp = "TCP"
    case udp = "UDP"
    case sctp = "SCTP"

    /// The IANA protocol number (`IPPROTO_*`).
    public var number: UInt8 {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .sctp: 132
        }
    }

    /// The lower-case spelling used by nftables and in kube-proxy's chain names.
    public var lowercased: String {
        switch self {
        case .tcp: "tcp"
        case .udp: "udp"
        case .sctp: "sctp"
        }
    }

    public init?(number: UInt8) {
        switch number {
        case 6: self = .tcp
        case 17: self = .udp
        case 132: self = .sctp
        default: return nil
        }
    }

    /// Accepts `TCP`, `tcp`, `Tcp` …; `nil` for anything else.
    public init?(caseInsensitive text: some StringProtocol) {
        switch text.lowercased() {
        case "tcp": self = .tcp
        case "udp": self = .udp
        case "sctp": self = .sctp
        default: return nil
        }
    }

    public static func < (lhs: L4Protocol, rhs: L4Protocol) -> Bool { lhs.number < rhs.number }
}
