/// Why a dataplane could not be read. Each case prints one sentence an operator can act on.
public enum DataplaneError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The caller lacks CAP_NET_ADMIN (netlink answered EPERM, or a save tool said permission denied).
    case permissionDenied(String)
    /// `--netns NAME` names no namespace under /var/run/netns.
    case namespaceNotFound(String)
    /// A namespace exists but could not be entered.
    case namespaceEnterFailed(name: String, errno: Int32)
    /// A helper program (`iptables-save`, `nft`) is not installed.
    case toolMissing(String)
    /// A helper program ran but failed.
    case toolFailed(tool: String, status: Int32, stderr: String)
    /// A kernel facility is absent (no nf_tables, no IPVS).
    case unsupported(String)
    /// A netlink call failed.
    case netlink(operation: String, errno: Int32)
    /// Input that could not be decoded at all (as opposed to a rule that is skipped with a warning).
    case malformed(String)

    public var description: String {
        switch self {
        case .permissionDenied(let what):
            "permission denied reading \(what): run as root or grant CAP_NET_ADMIN"
        case .namespaceNotFound(let name):
            "network namespace \"\(name)\" not found (looked for /var/run/netns/\(name))"
        case .namespaceEnterFailed(let name, let errno):
            "cannot enter network namespace \"\(name)\": \(Self.errnoText(errno))"
        case .toolMissing(let tool):
            "\(tool) not found in PATH: install it (Debian: apt-get install iptables nftables)"
        case .toolFailed(let tool, let status, let stderr):
            "\(tool) exited with status \(status)\(stderr.isEmpty ? "" : ": \(stderr)")"
        case .unsupported(let what):
            what
        case .netlink(let operation, let errno):
            "netlink \(operation) failed: \(Self.errnoText(errno))"
        case .malformed(let what):
            "malformed dataplane data: \(what)"
        }
    }

    /// A short name for common errno values; the number otherwise. (No libc here: this module is pure.)
    static func errnoText(_ errno: Int32) -> String {
        switch errno {
        case 1: "operation not permitted (EPERM)"
        case 2: "no such file or directory (ENOENT)"
        case 13: "permission denied (EACCES)"
        case 22: "invalid argument (EINVAL)"
        case 93: "protocol not supported (EPROTONOSUPPORT)"
        case 105: "no buffer space (ENOBUFS)"
        default: "errno \(errno)"
        }
    }
}
