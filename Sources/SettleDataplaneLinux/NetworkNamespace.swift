#if os(Linux)
import CMNL
import Foundation
public import SettleDataplane

/// Runs blocking dataplane work inside a named network namespace.
///
/// `setns` changes the namespace of the calling *thread* only, and Swift's cooperative pool gives
/// no thread to keep. So each call gets a dedicated thread that enters the namespace, runs the
/// work (netlink sockets opened there stay in that namespace for their lifetime) and ends, taking
/// the namespace change with it. Without a namespace the work still runs off the cooperative pool,
/// because netlink reads block.
public enum NetworkNamespace {
    /// The directory `ip netns add` creates namespaces in.
    public static let directory = "/var/run/netns"

    public static func run<T: Sendable>(
        in name: String?, _ body: @escaping @Sendable () throws(DataplaneError) -> T
    ) async throws(DataplaneError) -> T {
        let result: Result<T, DataplaneError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Result { () throws(DataplaneError) -> T in
                    if let name { try enter(name) }
                    return try body()
                })
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        return try result.get()
    }

    /// Checks that `/var/run/netns/NAME` exists, so a typo fails before any work starts.
    public static func validate(_ name: String) throws(DataplaneError) {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { throw .namespaceNotFound(name) }
        guard FileManager.default.fileExists(atPath: "\(directory)/\(name)") else { throw .namespaceNotFound(name) }
    }

    /// Moves the calling thread into the namespace. Only for threads that are about to end.
    static func enter(_ name: String) throws(DataplaneError) {
        try validate(name)
        let fd = open("\(directory)/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .namespaceNotFound(name) }
            throw .namespaceEnterFailed(name: name, errno: errno)
        }
        defer { close(fd) }
        guard setns(fd, Int32(CLONE_NEWNET)) == 0 else { throw .namespaceEnterFailed(name: name, errno: errno) }
    }
}
#endif
