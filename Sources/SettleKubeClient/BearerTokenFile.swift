import Foundation
import Synchronization

/// A bearer token kept in a file that someone else rotates (kubelet's projected service-account token).
///
/// Read on every request: a file read is far cheaper than a request, and it means a rotated token is used
/// by the very next request. If a read fails or finds an empty file (caught mid-rewrite), the last good
/// token is used.
public final class BearerTokenFile: Sendable {
    public let path: String
    private let lastGood = Mutex<String?>(nil)

    public init(path: String) {
        self.path = path
    }

    public func token() throws(KubeClientError) -> String {
        let read = FileManager.default.contents(atPath: path)
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        if let read, !read.isEmpty {
            lastGood.withLock { $0 = read }
            return read
        }
        if let previous = lastGood.withLock({ $0 }) { return previous }
        throw .invalidConfiguration("bearer token file \(path) is missing or empty")
    }
}
