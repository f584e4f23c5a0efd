public import Logging
public import SettleKube

/// A cache of one kind of object kept current by a ``Reflector``, announcing every change with old and new.
///
/// The actor owns the ``ObjectStore`` (the pure delta logic) and the event stream. Consumers read
/// ``events``: adds, updates and deletes in order, and ``InformerEvent/synced`` once after the first full
/// list — do not judge anything before it. Call ``run()`` once, in a task; it returns on cancellation.
public actor Informer<T: KubeObject> {
    /// Every change to the cache, in order; finishes when ``run()`` returns.
    public nonisolated let events: AsyncStream<InformerEvent<T>>
    private let continuation: AsyncStream<InformerEvent<T>>.Continuation
    private nonisolated let reflector: Reflector<T>
    private var store = ObjectStore<T>()
    /// Whether the first full list has been applied.
    public private(set) var hasSynced = false
    /// The resourceVersion of the last list, event or bookmark applied.
    public private(set) var resourceVersion: String?

    /// An informer fed by `reflector`; nothing happens until ``run()``.
    public init(reflector: Reflector<T>) {
        self.reflector = reflector
        (events, continuation) = AsyncStream.makeStream(of: InformerEvent<T>.self)
    }

    /// An informer over `client` with default reflector settings.
    public init(client: KubeClient, selection: ResourceSelection = .init(), logger: Logger = Logger(label: "settle.informer")) {
        self.init(reflector: Reflector(client: client, selection: selection, logger: logger))
    }

    /// The reflector's counters (lists, relists, failures, ...).
    public nonisolated var counters: ReflectorCounters { reflector.counters }

    /// Lists and watches until the task is cancelled.
    public nonisolated func run() async {
        await reflector.run { event in await self.apply(event) }
        await finish()
    }

    /// The cached object with this key (`namespace/name`, or `name` for cluster-scoped kinds).
    public func object(forKey key: String) -> T? { store.objects[key] }

    /// Every cached object, sorted by key.
    public var objects: [T] { store.objects.sorted { $0.key < $1.key }.map(\.value) }

    private func apply(_ event: ReflectorEvent<T>) {
        switch event {
        case .replaced(_, let rv), .bookmark(let rv): resourceVersion = rv
        case .added(let object), .modified(let object), .deleted(let object):
            resourceVersion = object.metadata.resourceVersion ?? resourceVersion
        }
        for change in store.apply(event) { continuation.yield(change) }
        if case .replaced = event, !hasSynced {
            hasSynced = true
            continuation.yield(.synced)
        }
    }

    private func finish() { continuation.finish() }
}
