/// Which objects one LIST or WATCH request wants: a resource, optionally one namespace, and selectors.
///
/// Also turns stored changes into what this watcher must see: an object modified into the selector
/// arrives as `ADDED` and one modified out of it as `DELETED`, as the real watch cache does.
struct WatchFilter: Sendable {
    var resource: APIResource
    var namespace: String?
    var labelSelector: LabelSelector
    var fieldSelector: FieldSelector

    func matches(_ object: JSONValue) -> Bool {
        if let namespace, object.string(atPath: "metadata.namespace") != namespace { return false }
        return labelSelector.matches(object.labels) && fieldSelector.matches(object)
    }

    /// The event this watcher sees for a stored change, or nil when it concerns objects it does not select.
    func translate(_ event: StoredEvent) -> WatchEventLine? {
        guard event.resourceID == resource.id else { return nil }
        let now = matches(event.object)
        let before = event.previous.map(matches) ?? false
        switch event.type {
        case .added:
            return now ? WatchEventLine(type: .added, object: event.object) : nil
        case .modified:
            switch (before, now) {
            case (true, true): return WatchEventLine(type: .modified, object: event.object)
            case (false, true): return WatchEventLine(type: .added, object: event.object)
            case (true, false): return WatchEventLine(type: .deleted, object: event.object)
            case (false, false): return nil
            }
        case .deleted:
            return before ? WatchEventLine(type: .deleted, object: event.object) : nil
        case .bookmark, .error:
            return nil
        }
    }
}
