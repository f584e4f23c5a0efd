public import Foundation

/// The acknowledgement stream's encoding: newline-delimited JSON, one ``AckMessage`` per line,
/// times as RFC 3339 UTC with milliseconds (docs/agent-api.md).
public enum AckWire {
    /// One message as one line, `\n` included.
    public static func encode(_ message: AckMessage) -> [UInt8] {
        // Encoding our own value types cannot fail: no floats that could be non-finite, no throwing encoders.
        var bytes = (try? encoder.encode(message)).map { [UInt8]($0) } ?? []
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Decodes one line (with or without its `\n`).
    public static func decode(line: some Collection<UInt8>) throws(AckWireError) -> AckMessage {
        try decode(line: line, with: decoder)
    }

    /// Decodes one line with a decoder made by ``decoder`` (reused by stream readers: making one
    /// per line costs more than decoding a small line).
    public static func decode(line: some Collection<UInt8>, with decoder: JSONDecoder) throws(AckWireError) -> AckMessage {
        do {
            return try decoder.decode(AckMessage.self, from: Data(line))
        } catch {
            throw .malformedLine(String(decoding: line.prefix(200), as: UTF8.self), "\(error)")
        }
    }

    /// A JSON encoder with the wire's conventions (sorted keys, RFC 3339 times), also for `/v1/state`.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatTime(date))
        }
        return encoder
    }

    /// A JSON decoder accepting the wire's times (with or without fractional seconds).
    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseTime(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return decoder
    }

    private static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let whole = Date.ISO8601FormatStyle()

    /// `2026-11-27T17:10:12.345Z`.
    public static func formatTime(_ date: Date) -> String {
        date.formatted(fractional)
    }

    /// Parses an RFC 3339 time, fractional seconds optional.
    public static func parseTime(_ text: String) -> Date? {
        (try? fractional.parse(text)) ?? (try? whole.parse(text))
    }
}

/// Why an acknowledgement stream could not be read.
public enum AckWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A line is not a stream message.
    case malformedLine(String, String)
    /// A line grew past the reader's limit without a newline.
    case lineTooLong(limit: Int)

    public var description: String {
        switch self {
        case .malformedLine(let line, let why): "ack stream line is not a snapshot, delta or heartbeat (\(why)): \(line)"
        case .lineTooLong(let limit): "ack stream line longer than \(limit) bytes; is this an agent's /v1/acks?"
        }
    }
}

/// Splits a byte stream into ``AckMessage``s at newlines, for readers of `/v1/acks`.
///
/// Feed it chunks as they arrive; it keeps the unfinished last line. Empty lines are skipped.
public struct AckStreamDecoder: Sendable {
    /// The longest line accepted: a snapshot of a node with many endpoints in transition is big,
    /// but a line without end is an error, not a reason to run out of memory.
    public var maxLineBytes: Int
    private var pending: [UInt8] = []
    private let decoder = AckWire.decoder

    public init(maxLineBytes: Int = 64 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// The complete messages in `chunk` (and what was left over before it).
    public mutating func feed(_ chunk: some Collection<UInt8>) throws(AckWireError) -> [AckMessage] {
        pending.append(contentsOf: chunk)
        var messages: [AckMessage] = []
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[start..<newline]
            if !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) {
                messages.append(try AckWire.decode(line: line, with: decoder))
            }
            start = pending.index(after: newline)
        }
        pending.removeSubrange(..<start)
        if pending.count > maxLineBytes { throw .lineTooLong(limit: maxLineBytes) }
        return messages
    }
}
