#if os(Linux)
import CMNL
import Dispatch
import SettleDataplane
import Synchronization

/// Decodes and interprets rule messages on a second thread while the first keeps the kernel busy with the next
/// dump requests.
///
/// A full read is bound by the kernel's dump (system time on the reading thread); decoding the
/// 100k+ rule messages of a kube-proxy-sized table takes another second or two of user time.
/// Overlapping the two makes the read cost about the dump alone. Chunks are decoded in
/// submission order (a serial queue), so rules keep their dump order.
final class RuleDecodePipeline: Sendable {
    private let queue = DispatchQueue(label: "settle.nftables.rule-decode")
    private let decoded = Mutex<[(chain: String, rules: [NFTRule])]>([])
    /// Time spent decoding, for `SETTLE_TIMING` diagnostics.
    let busy = Mutex<Duration>(.zero)
    private let interner: Mutex<StringInterner>
    private let table: String
    private let sets: [String: NFTLowLevelSet]

    /// Bytes collected before a chunk is handed over.
    static let chunkBytes = 64 * 1024

    /// `sets`: the table's sets with their elements, by name, to interpret lookups and maps.
    /// `strings`: the reader's interned strings so far (chain names), shared with the decoder.
    init(table: String, sets: [String: NFTLowLevelSet], strings: [UInt64: [String]]) {
        self.table = table
        self.sets = sets
        self.interner = Mutex(StringInterner(buckets: strings))
    }

    /// Hands over raw netlink messages (each `NLMSG_ALIGN`ed, as they arrived).
    func submit(_ chunk: [UInt8]) {
        guard !chunk.isEmpty else { return }
        let table = self.table
        queue.async { [self] in
            let started = ContinuousClock.now
            defer { busy.withLock { $0 += ContinuousClock.now - started } }
            var groups: [(chain: String, rules: [NFTRule])] = []
            interner.withLock { interner in
                chunk.withUnsafeBytes { raw in
                    var remaining = Int32(raw.count)
                    var header = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
                    while mnl_nlmsg_ok(header, remaining) {
                        if let rule = NFTablesExpressionDecoder.rule(header, table: table, interner: interner) {
                            let semantic = NFTLowLevelTable.semanticRule(rule, sets: sets)
                            if groups.last?.chain == rule.chain {
                                groups[groups.count - 1].rules.append(semantic)
                            } else {
                                groups.append((rule.chain, [semantic]))
                            }
                        }
                        header = UnsafePointer(mnl_nlmsg_next(header, &remaining))
                    }
                }
            }
            decoded.withLock { $0.append(contentsOf: groups) }
        }
    }

    /// Waits for every submitted chunk and returns the interpreted rules in order, by chain.
    func finish() -> [(chain: String, rules: [NFTRule])] {
        queue.sync {}
        return decoded.withLock { $0 }
    }
}

extension Array where Element == UInt8 {
    /// Appends one netlink message, padded to its aligned length so the next one stays aligned.
    mutating func appendMessage(_ header: UnsafePointer<nlmsghdr>) {
        let length = Int(header.pointee.nlmsg_len)
        let aligned = (length + 3) & ~3
        append(contentsOf: UnsafeRawBufferPointer(start: header, count: length))
        if aligned > length { append(contentsOf: repeatElement(0, count: aligned - length)) }
    }
}
#endif
