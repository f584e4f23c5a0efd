import Foundation
import SettleTestSupport

/// A throw-away network namespace for loading rules into the real kernel; always deleted. A thin
/// adapter over the shared ``SettleTestSupport/ScratchNamespace``.
struct ScratchNamespace {
    let namespace: SettleTestSupport.ScratchNamespace
    var name: String { namespace.name }

    /// True when running as root (CI is); the real-kernel tests need it.
    static var available: Bool { SettleTestSupport.ScratchNamespace.isRoot }

    /// Runs `body` in a fresh namespace `settle-rw-<random>`, deleted afterwards, also on failure.
    static func with<T>(_ body: (ScratchNamespace) throws -> T) throws -> T {
        try body(ScratchNamespace(namespace: try SettleTestSupport.ScratchNamespace("settle-rw")))
    }

    /// Runs a command inside the namespace with `stdin` as its input.
    @discardableResult
    func exec(_ arguments: [String], stdin: String? = nil) throws -> String {
        try namespace.exec(arguments[0], Array(arguments.dropFirst()), input: stdin)
    }

    /// Loads one `nft -f` input.
    func nft(file text: String) throws { try namespace.nft(text) }

    /// Elements of a named set or map, from `nft -j list`.
    func elementCount(family: String, kind: String, name: String) throws -> Int {
        let json = try exec(["nft", "-j", "list", kind, family, "kube-proxy", name])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let items = object?["nftables"] as? [[String: Any]] ?? []
        for item in items {
            if let body = item[kind] as? [String: Any] { return (body["elem"] as? [Any])?.count ?? 0 }
        }
        return 0
    }
}
