/// Splits a watch response body into lines, whatever the chunking.
///
/// The API server writes one JSON object per line, but TCP and chunked encoding cut the byte stream
/// anywhere; this keeps the unfinished tail until its newline arrives. Pure value type, so it is tested by
/// feeding the same bytes whole, byte by byte and split at every newline.
public struct WatchLineFramer: Sendable {
    private var pending: [UInt8] = []
    /// Refuse to buffer a single line larger than this (a hostile or broken server), in bytes.
    public var maximumLineLength: Int

    /// A framer refusing lines longer than `maximumLineLength` bytes.
    public init(maximumLineLength: Int = 64 << 20) {
        self.maximumLineLength = maximumLineLength
    }

    /// Bytes of an unfinished line held so far.
    public var pendingByteCount: Int { pending.count }

    /// Appends bytes and returns every line they complete (without the newline; blank lines are dropped).
    public mutating func append(_ bytes: some Sequence<UInt8>) throws(KubeClientError) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                if !pending.isEmpty { lines.append(pending) }
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
                if pending.count > maximumLineLength {
                    throw .decoding("watch line longer than \(maximumLineLength) bytes")
                }
            }
        }
        return lines
    }

    /// Ends the stream: throws ``KubeClientError/truncatedStream(bytes:)`` if an unfinished line remains.
    ///
    /// A final line without a newline is not trusted even if it parses: the real server always ends
    /// events with a newline, so a missing one means the connection broke.
    public func finish() throws(KubeClientError) {
        if !pending.isEmpty { throw .truncatedStream(bytes: pending.count) }
    }
}
