/// One line of a watch response: `{"type":"ADDED","object":{…}}`.
struct WatchEventLine: Sendable {
    enum EventType: String, Sendable {
        case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR"
    }

    var type: EventType
    var object: JSONValue

    /// The bytes written on the wire, newline included.
    var bytes: [UInt8] {
        let line = JSONValue.object(["type": .string(type.rawValue), "object": object]).encoded()
        return Array(line) + [UInt8(ascii: "\n")]
    }
}
