public import SettleKube

/// An informer's cache as a pure value: objects by key, and the deltas each reflector event causes.
///
/// A relist compares the new snapshot with the cache: new keys are adds, changed objects are updates,
/// unchanged ones emit nothing, and keys missing from the snapshot become deletes.
public struct ObjectStore<T: KubeObject>: Sendable {
    /// The cached objects by key (`namespace/name`, or `name`).
    public private(set) var objects: [String: T] = [:]

    /// Starts empty.
    public init() {}

    /// Applies a reflector event and returns the resulting cache changes (sorted by key for a relist).
    public mutating func apply(_ event: ReflectorEvent<T>) -> [InformerEvent<T>] {
        switch event {
        case .replaced(let items, _):
            return replace(with: items)
        case .added(let object), .modified(let object):
            return upsert(object).map { [$0] } ?? []
        case .deleted(let object):
            guard objects.removeValue(forKey: object.key) != nil else { return [] }
            return [.deleted(object, finalStateUnknown: false)]
        case .bookmark:
            return []
        }
    }

    private mutating func upsert(_ object: T) -> InformerEvent<T>? {
        let old = objects.updateValue(object, forKey: object.key)
        guard let old else { return .added(object) }
        return old == object ? nil : .updated(old: old, new: object)
    }

    private mutating func replace(with items: [T]) -> [InformerEvent<T>] {
        var changes: [InformerEvent<T>] = []
        var seen = Set<String>()
        for object in items.sorted(by: { $0.key < $1.key }) {
            seen.insert(object.key)
            if let change = upsert(object) { changes.append(change) }
        }
        for key in objects.keys.sorted() where !seen.contains(key) {
            if let old = objects.removeValue(forKey: key) { changes.append(.deleted(old, finalStateUnknown: true)) }
        }
        return changes
    }
}
