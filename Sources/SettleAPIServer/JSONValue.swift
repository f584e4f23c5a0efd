import Foundation

/// A JSON document held as a value, so the stand-in API server can store any kind of object.
///
/// The server never needs typed objects: it keeps what clients send, touches only `metadata`, and
/// hands it back. Integers are kept apart from doubles so ports and generations round-trip exactly.
public enum JSONValue: Hashable, Sendable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The member `key` of an object, or nil for other values or a missing member.
    public subscript(key: String) -> JSONValue? {
        get {
            if case .object(let members) = self { return members[key] }
            return nil
        }
        set {
            guard case .object(var members) = self else { return }
            members[key] = newValue
            self = .object(members)
        }
    }

    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The integer, if this is an integer.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The value at a dotted path such as `metadata.name`, as a string (numbers and booleans spelled out).
    ///
    /// Field selectors compare strings, so this is the form they need.
    public func string(atPath path: String) -> String? {
        var current: JSONValue? = self
        for component in path.split(separator: ".") {
            current = current?[String(component)]
        }
        switch current {
        case .string(let value): return value
        case .int(let value): return String(value)
        case .bool(let value): return String(value)
        case .double(let value): return String(value)
        default: return nil
        }
    }

    /// The string-to-string map at `metadata.labels`; empty when absent.
    var labels: [String: String] {
        guard case .object(let members)? = self["metadata"]?["labels"] else { return [:] }
        return members.compactMapValues(\.stringValue)
    }

    /// Encodes the value as compact JSON with sorted keys (stable output for tests and diffs).
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSONValue cannot fail: every case maps onto a JSON primitive.
        return (try? encoder.encode(self)) ?? Data("null".utf8)
    }

    /// Decodes JSON bytes.
    public static func decode(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Converts any encodable value (for example a ``KubeObject``) to a JSON value.
    public static func from(_ value: some Encodable) throws -> JSONValue {
        try decode(JSONEncoder().encode(value))
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    /// Lets tests and documents write JSON strings as literals.
    public init(stringLiteral value: String) { self = .string(value) }
}
