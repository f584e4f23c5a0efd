import Foundation

/// The stand-in's data: objects per resource, one global resourceVersion, and a bounded change history.
///
/// A pure value: no clock except the creation timestamp it is given, no I/O. ``APIServerState`` owns one
/// and fans its changes out to watchers. Mirrors etcd + the watch cache closely enough that clients
/// relying on list/watch semantics (RV continuation, 410 after compaction) behave as in a cluster.
struct ResourceStore: Sendable {
    /// The last resourceVersion handed out. Starts above zero because RV "0" means "any" to clients.
    private(set) var resourceVersion: Int64 = 1000
    /// Resource id → object key (`ns/name` or `name`) → object.
    private var objects: [String: [String: JSONValue]] = [:]
    /// Changes newer than ``compactedRevision``, oldest first.
    private var history: [StoredEvent] = []
    /// Changes at or below this RV are no longer retained; watching from an older RV is `410 Gone`.
    private(set) var compactedRevision: Int64 = 1000
    /// How many changes to keep (across all resources), like the watch cache's window.
    var historyLimit: Int

    init(historyLimit: Int) {
        self.historyLimit = max(historyLimit, 1)
    }

    // MARK: Writes

    /// Creates an object, filling server-owned metadata (uid, creationTimestamp, resourceVersion, generation).
    mutating func create(_ resource: APIResource, _ input: JSONValue, now: Date) throws(StoreError) -> JSONValue {
        var object = try normalized(resource, input)
        let key = Self.key(of: object)
        guard objects[resource.id, default: [:]][key] == nil else {
            throw .alreadyExists(resource: resource.resource, name: key)
        }
        resourceVersion += 1
        object["metadata"]?["uid"] = .string(UUID().uuidString.lowercased())
        object["metadata"]?["creationTimestamp"] = .string(now.ISO8601Format())
        object["metadata"]?["resourceVersion"] = .string(String(resourceVersion))
        if resource.tracksGeneration { object["metadata"]?["generation"] = .int(1) }
        objects[resource.id, default: [:]][key] = object
        record(StoredEvent(resourceVersion: resourceVersion, resourceID: resource.id, type: .added, object: object))
        return object
    }

    /// Replaces an object. With `checkResourceVersion`, a stale `metadata.resourceVersion` is a conflict (409),
    /// as for a real PUT. An update that changes nothing is a no-op: no new RV, no event.
    mutating func update(_ resource: APIResource, _ input: JSONValue, checkResourceVersion: Bool) throws(StoreError) -> JSONValue {
        var object = try normalized(resource, input)
        let key = Self.key(of: object)
        guard let old = objects[resource.id]?[key] else { throw .notFound(resource: resource.resource, name: key) }
        let oldRV = old.string(atPath: "metadata.resourceVersion")
        if checkResourceVersion, let sent = object.string(atPath: "metadata.resourceVersion"), sent != oldRV {
            throw .conflict(resource: resource.resource, name: key)
        }
        for field in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
            object["metadata"]?[field] = old["metadata"]?[field]
        }
        if resource.tracksGeneration, Self.specChanged(old, object) {
            object["metadata"]?["generation"] = .int((old["metadata"]?["generation"]?.intValue ?? 0) + 1)
        }
        if object == old { return old }
        resourceVersion += 1
        object["metadata"]?["resourceVersion"] = .string(String(resourceVersion))
        objects[resource.id, default: [:]][key] = object
        record(StoredEvent(resourceVersion: resourceVersion, resourceID: resource.id, type: .modified, object: object, previous: old))
        return object
    }

    /// Deletes an object; the `DELETED` event carries it with the deletion's resourceVersion.
    mutating func delete(_ resource: APIResource, namespace: String?, name: String) throws(StoreError) -> JSONValue {
        let key = resource.namespaced ? "\(namespace ?? "default")/\(name)" : name
        guard var object = objects[resource.id]?[key] else { throw .notFound(resource: resource.resource, name: name) }
        let old = object
        objects[resource.id]?[key] = nil
        resourceVersion += 1
        object["metadata"]?["resourceVersion"] = .string(String(resourceVersion))
        record(StoredEvent(resourceVersion: resourceVersion, resourceID: resource.id, type: .deleted, object: object, previous: old))
        return object
    }

    /// Drops all retained history, so any watch from an RV older than now gets `410 Gone`.
    mutating func compact() {
        history.removeAll()
        compactedRevision = resourceVersion
    }

    // MARK: Reads

    /// The selected objects, sorted by key (the real server returns etcd key order), and the snapshot RV.
    func list(_ filter: WatchFilter) -> [JSONValue] {
        (objects[filter.resource.id] ?? [:]).sorted { $0.key < $1.key }.map(\.value).filter(filter.matches)
    }

    /// One object, or nil.
    func get(_ resource: APIResource, namespace: String?, name: String) -> JSONValue? {
        let key = resource.namespaced ? "\(namespace ?? "default")/\(name)" : name
        return objects[resource.id]?[key]
    }

    /// Every retained change after `after`, or ``StoreError/expired(requested:oldest:)`` if some were compacted.
    func events(after: Int64) throws(StoreError) -> [StoredEvent] {
        guard after >= compactedRevision else { throw .expired(requested: after, oldest: compactedRevision + 1) }
        return history.filter { $0.resourceVersion > after }
    }

    // MARK: Helpers

    private mutating func record(_ event: StoredEvent) {
        history.append(event)
        if history.count > historyLimit {
            let dropped = history.count - historyLimit
            compactedRevision = history[dropped - 1].resourceVersion
            history.removeFirst(dropped)
        }
    }

    /// Checks the object has a name, defaults the namespace, and stamps kind/apiVersion.
    private func normalized(_ resource: APIResource, _ input: JSONValue) throws(StoreError) -> JSONValue {
        guard case .object = input else { throw .badRequest("object must be a JSON object") }
        var object = input
        if object["metadata"] == nil { object["metadata"] = .object([:]) }
        guard let name = object.string(atPath: "metadata.name"), !name.isEmpty else {
            throw .invalid("\(resource.kind).metadata.name: Required value: name is required")
        }
        if resource.namespaced {
            if (object.string(atPath: "metadata.namespace") ?? "").isEmpty { object["metadata"]?["namespace"] = "default" }
        } else {
            object["metadata"]?["namespace"] = nil
        }
        object["kind"] = .string(resource.kind)
        object["apiVersion"] = .string(resource.groupVersion)
        return object
    }

    static func key(of object: JSONValue) -> String {
        let name = object.string(atPath: "metadata.name") ?? ""
        if let namespace = object.string(atPath: "metadata.namespace"), !namespace.isEmpty { return "\(namespace)/\(name)" }
        return name
    }

    /// Mirrors `endpointSliceStrategy.PrepareForUpdate`: anything outside metadata, or the labels, changed.
    static func specChanged(_ old: JSONValue, _ new: JSONValue) -> Bool {
        var oldBody = old, newBody = new
        oldBody["metadata"] = nil
        newBody["metadata"] = nil
        return oldBody != newBody || old.labels != new.labels
    }
}
