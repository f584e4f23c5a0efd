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
        if let date = parseWireTime(text) { return date }
        return (try? fractional.parse(text)) ?? (try? whole.parse(text))
    }

    /// The wire's own form, `YYYY-MM-DDTHH:MM:SS[.fff…]Z`, read by hand: every ack carries one or
    /// two times and an aggregator reads every node's acks, so a format style per time costs more
    /// than the rest of the line. Anything else (offsets, other separators) returns `nil` and goes
    /// to the general parser.
    public static func parseWireTime(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            guard bytes.count >= 20, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54 || bytes[10] == 0x74,
                bytes[13] == 0x3A, bytes[16] == 0x3A, bytes[bytes.count - 1] == 0x5A || bytes[bytes.count - 1] == 0x7A
            else { return nil }
            func number(_ range: Range<Int>) -> Int? {
                var value = 0
                for index in range {
                    let digit = Int(bytes[index]) - 0x30
                    guard (0...9).contains(digit) else { return nil }
                    value = value * 10 + digit
                }
                return value
            }
            guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
                let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), (1...31).contains(day),
                hour < 24, minute < 60, second < 60
            else { return nil }
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            guard day <= monthDays[month - 1] else { return nil }
            var fraction = 0.0
            let end = bytes.count - 1
            if end > 19 {
                guard bytes[19] == 0x2E, end > 20, end - 20 <= 9, let digits = number(20..<end) else { return nil }
                fraction = Double(digits) / pow(10, Double(end - 20))
            } else if end != 19 {
                return nil
            }
            // Days from 1970-01-01 to the civil date (Howard Hinnant's days_from_civil).
            let y = month <= 2 ? year - 1 : year
            let era = (y >= 0 ? y : y - 399) / 400
            let yearOfEra = y - era * 400
            let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
            let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
            let days = era * 146_097 + dayOfEra - 719_468
            // From the reference date (2001), as `Date` stores it, so whole seconds convert exactly.
            let whole = days * 86_400 + hour * 3600 + minute * 60 + second - 978_307_200
            return Date(timeIntervalSinceReferenceDate: Double(whole) + fraction)
        }
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
