#if os(Linux)
import Glibc

/// Returns one shared `String` per distinct C string.
///
/// A kube-proxy table names the same chains over and over — every rule carries its chain's name,
/// every endpoint chain jumps to `mark-for-masquerade`, every verdict map element names a chain —
/// and at 10k services separate copies cost tens of megabytes. Strings of up to 15 UTF-8 bytes are
/// stored inline by Swift and are not interned. Not thread-safe: one reader thread at a time.
final class StringInterner {
    /// The interned strings by hash: a value, so another thread can start from the same table.
    private(set) var buckets: [UInt64: [String]]

    init(buckets: [UInt64: [String]] = [:]) {
        self.buckets = buckets
    }

    func intern(_ c: UnsafePointer<CChar>) -> String {
        let length = strlen(c)
        if length <= 15 { return String(cString: c) }
        let hash = Self.hash(c, length)
        if let candidates = buckets[hash] {
            for s in candidates where s.utf8.count == length && s.withCString({ strcmp($0, c) == 0 }) { return s }
        }
        let s = String(cString: c)
        buckets[hash, default: []].append(s)
        return s
    }

    func intern(_ s: String) -> String {
        s.withCString { intern($0) }
    }

    private static func hash(_ c: UnsafePointer<CChar>, _ length: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for i in 0..<length { hash = (hash ^ UInt64(UInt8(bitPattern: c[i]))) &* 0x100_0000_01b3 }
        return hash
    }
}
#endif
