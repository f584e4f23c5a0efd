import Foundation
import SettleKube
import SettleKubeClient
import Testing

/// The watch decoder gives the same events however the byte stream is chunked.
struct WatchEventDecoderTests {
    static let stream: [UInt8] = Array("""
        {"type":"ADDED","object":{"metadata":{"name":"w1","namespace":"ns","resourceVersion":"11"},"spec":{"k":"v"}}}
        {"type":"MODIFIED","object":{"metadata":{"name":"w1","namespace":"ns","resourceVersion":"12"},"spec":{"k":"é✓"}}}
        {"type":"BOOKMARK","object":{"kind":"Widget","apiVersion":"test.settle.dev/v1","metadata":{"resourceVersion":"15","creationTimestamp":null}}}
        {"type":"DELETED","object":{"metadata":{"name":"w1","namespace":"ns","resourceVersion":"16"}}}
        {"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (10)","reason":"Expired","code":410}}

        """.utf8)

    static func expected() -> [WatchEvent<Widget>] {
        var first = Widget("ns", "w1", spec: ["k": "v"])
        first.metadata.resourceVersion = "11"
        var second = Widget("ns", "w1", spec: ["k": "é✓"])
        second.metadata.resourceVersion = "12"
        var third = Widget("ns", "w1")
        third.metadata.resourceVersion = "16"
        return [
            .added(first), .modified(second), .bookmark(resourceVersion: "15"), .deleted(third),
            .error(KubeStatus(status: "Failure", message: "too old resource version: 1 (10)", reason: "Expired", code: 410)),
        ]
    }

    private func decode(_ chunks: [[UInt8]]) throws -> [WatchEvent<Widget>] {
        var decoder = WatchEventDecoder<Widget>()
        var events: [WatchEvent<Widget>] = []
        for chunk in chunks {
            for result in try decoder.feed(chunk) { events.append(try result.get()) }
        }
        try decoder.finish()
        return events
    }

    /// Whole, byte by byte, split after each newline, and split in the middle of every line: identical events.
    @Test("same events whether fed whole, byte by byte, or split at each newline")
    func chunkingImmune() throws {
        let bytes = Self.stream
        let whole = try decode([bytes])
        #expect(whole == Self.expected())
        #expect(try decode(bytes.map { [$0] }) == whole)
        var lines: [[UInt8]] = [[]]
        for byte in bytes {
            lines[lines.count - 1].append(byte)
            if byte == UInt8(ascii: "\n") { lines.append([]) }
        }
        #expect(try decode(lines) == whole)
        for split in stride(from: 1, to: bytes.count, by: 7) {
            #expect(try decode([Array(bytes[..<split]), Array(bytes[split...])]) == whole)
        }
    }

    /// A stream that stops inside a line is reported as truncated, never decoded as an event.
    @Test("a stream ending mid-line throws truncatedStream and yields only the whole lines")
    func truncated() throws {
        let cut = Array(Self.stream.prefix(Self.stream.count - 20))
        var decoder = WatchEventDecoder<Widget>()
        let results = try decoder.feed(cut)
        #expect(results.count == 4)
        #expect(throws: KubeClientError.self) { try decoder.finish() }
    }

    /// An undecodable complete line is reported as a failure and the following lines still decode.
    @Test("a malformed line is reported and skipped; later lines still decode")
    func malformedLineSkipped() throws {
        let bytes = Array("{\"type\":\"ADDED\",\"object\":{\"metadata\":\n".utf8) + Self.stream
        var decoder = WatchEventDecoder<Widget>()
        let results = try decoder.feed(bytes)
        #expect(results.count == 6)
        #expect((try? results[0].get()) == nil)
        #expect(results.dropFirst().compactMap { try? $0.get() } == Self.expected())
    }

    /// CRLF line endings and blank lines are tolerated.
    @Test("CRLF and blank lines are tolerated")
    func crlf() throws {
        let text = String(decoding: Self.stream, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n\r\n")
        #expect(try decode([Array(text.utf8)]) == Self.expected())
    }
}
