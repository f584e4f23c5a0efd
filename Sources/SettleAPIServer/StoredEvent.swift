/// One change recorded in the server's history, with the object before it (for selector transitions).
struct StoredEvent: Sendable {
    var resourceVersion: Int64
    var resourceID: String
    var type: WatchEventLine.EventType
    var object: JSONValue
    var previous: JSONValue?
}
