public import SettleKube
import SettleModel

/// kube-proxy's desired state for one node, kept up to date one API change at a time.
///
/// Holds the Services and EndpointSlices seen so far (slices indexed by the Service their
/// `kubernetes.io/service-name` label names) and the desired service ports of every Service. An
/// event recomputes only what it can affect, as kube-proxy's change trackers do
/// (KK `pkg/proxy/servicechangetracker.go`, `endpointschangetracker.go`):
/// - a Service upsert or delete: that Service;
/// - a slice upsert or delete: the Service its label names, and the one it named before if the
///   label moved;
/// - a change of the node (name or labels, e.g. its zone): every Service, as kube-proxy's full sync.
///
/// The cost of a slice event is proportional to that Service's slices, not to the cluster.
/// ``servicePorts`` always equals ``DesiredState/compute(services:slices:node:options:)`` over the
/// objects held. A pure value: no clock, no I/O, no globals.
public struct DesiredStateCache: Sendable {
    /// One change to the cache's inputs, as an informer announces it.
    public enum Event: Hashable, Sendable {
        /// A Service was added or changed.
        case serviceUpserted(V1Service)
        /// A Service was deleted (matched by its key, `namespace/name`).
        case serviceDeleted(V1Service)
        /// An EndpointSlice was added or changed.
        case sliceUpserted(V1EndpointSlice)
        /// An EndpointSlice was deleted (matched by its key).
        case sliceDeleted(V1EndpointSlice)
        /// The node's name or labels changed (its zone decides topology hints).
        case nodeChanged(NodeTopology)
    }

    /// The node whose kube-proxy this cache mirrors.
    public private(set) var node: NodeTopology
    /// Feature gates and families, fixed for the cache's lifetime.
    public let options: SelectionOptions
    /// Services by key (`namespace/name`), including those kube-proxy's label selector hides.
    public private(set) var services: [String: V1Service] = [:]
    /// EndpointSlices by key, including those of missing Services.
    public private(set) var slices: [String: V1EndpointSlice] = [:]

    /// `namespace/service-name` → keys of the slices labelled for it.
    private var sliceKeysByTarget: [String: Set<String>] = [:]
    /// `namespace/name` of a Service (the value slices join on) → its key.
    private var serviceKeyByTarget: [String: String] = [:]
    /// Service key → its desired service ports, sorted; absent when it has none.
    private var results: [String: [DesiredServicePort]] = [:]

    /// An empty cache.
    public init(node: NodeTopology, options: SelectionOptions = SelectionOptions()) {
        self.node = node
        self.options = options
    }

    /// A cache filled with `services` and `slices` (later copies of the same key win), computed once
    /// per Service.
    public init(
        services: [V1Service], slices: [V1EndpointSlice], node: NodeTopology, options: SelectionOptions = SelectionOptions()
    ) {
        self.init(node: node, options: options)
        _ = apply(services.map(Event.serviceUpserted) + slices.map(Event.sliceUpserted))
    }

    /// Every desired service port, sorted: the same as ``DesiredState/compute(services:slices:node:options:)``
    /// over ``services`` and ``slices``.
    public var servicePorts: [DesiredServicePort] { results.values.flatMap { $0 }.sorted() }

    /// The desired service ports of the Service with key `namespace/name`, sorted.
    public func servicePorts(ofService key: String) -> [DesiredServicePort] { results[key] ?? [] }

    /// The slices labelled for the Service with key `namespace/name` (name, UID, generation), sorted.
    public func sliceReferences(ofService key: String) -> [SliceReference] {
        (sliceKeysByTarget[key] ?? []).compactMap { slices[$0] }.map {
            SliceReference(name: $0.metadata.name ?? "", uid: $0.metadata.uid, generation: $0.metadata.generation)
        }.sorted()
    }

    /// Applies one event; returns the service ports whose desired state changed, sorted.
    public mutating func apply(_ event: Event) -> [ServicePortChange] {
        apply(CollectionOfOne(event))
    }

    /// Applies several events, recomputing each affected Service once (use it for an initial list);
    /// returns the service ports whose desired state differs from before the batch, sorted.
    public mutating func apply(_ events: some Sequence<Event>) -> [ServicePortChange] {
        var affected = Set<String>()
        var everything = false
        for event in events {
            switch event {
            case .serviceUpserted(let service):
                if let old = services.updateValue(service, forKey: service.key), let target = Self.target(of: old) {
                    serviceKeyByTarget[target] = nil
                }
                if let target = Self.target(of: service) { serviceKeyByTarget[target] = service.key }
                affected.insert(service.key)
            case .serviceDeleted(let service):
                guard let old = services.removeValue(forKey: service.key) else { continue }
                if let target = Self.target(of: old) { serviceKeyByTarget[target] = nil }
                affected.insert(service.key)
            case .sliceUpserted(let slice):
                let key = slice.key
                if let old = slices.updateValue(slice, forKey: key), let target = Self.target(of: old) {
                    unindex(slice: key, from: target, affecting: &affected)
                }
                if let target = Self.target(of: slice) {
                    sliceKeysByTarget[target, default: []].insert(key)
                    if let service = serviceKeyByTarget[target] { affected.insert(service) }
                }
            case .sliceDeleted(let slice):
                guard let old = slices.removeValue(forKey: slice.key) else { continue }
                if let target = Self.target(of: old) { unindex(slice: slice.key, from: target, affecting: &affected) }
            case .nodeChanged(let topology):
                guard topology != node else { continue }
                node = topology
                everything = true
            }
        }
        if everything {
            affected.formUnion(services.keys)
            affected.formUnion(results.keys)
        }
        return affected.flatMap { recompute(service: $0) }.sorted()
    }

    private mutating func unindex(slice key: String, from target: String, affecting affected: inout Set<String>) {
        sliceKeysByTarget[target]?.remove(key)
        if sliceKeysByTarget[target]?.isEmpty == true { sliceKeysByTarget[target] = nil }
        if let service = serviceKeyByTarget[target] { affected.insert(service) }
    }

    /// Recomputes one Service from its slices and returns how its service ports changed.
    private mutating func recompute(service key: String) -> [ServicePortChange] {
        let old = results[key] ?? []
        var new: [DesiredServicePort] = []
        if let service = services[key] {
            let slices = Self.target(of: service).map { target in
                (sliceKeysByTarget[target] ?? []).compactMap { self.slices[$0] }
            } ?? []
            new = DesiredState.compute(services: [service], slices: slices, node: node, options: options)
        }
        results[key] = new.isEmpty ? nil : new
        return Self.diff(old: old, new: new)
    }

    /// The changes between two sorted lists of one Service's ports.
    static func diff(old: [DesiredServicePort], new: [DesiredServicePort]) -> [ServicePortChange] {
        if old == new { return [] }
        let before = Dictionary(old.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
        let after = Dictionary(new.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
        var changes: [ServicePortChange] = []
        for key in Set(before.keys).union(after.keys) where before[key] != after[key] {
            changes.append(ServicePortChange(key: key, old: before[key], new: after[key]))
        }
        return changes
    }

    /// `namespace/name`: what slices of this Service name in their label; nil when the Service has
    /// no namespace or name (it yields no ports).
    static func target(of service: V1Service) -> String? {
        guard let namespace = service.metadata.namespace, let name = service.metadata.name else { return nil }
        return "\(namespace)/\(name)"
    }

    /// `namespace/service-name`; nil for a slice without namespace or label (it joins no Service).
    static func target(of slice: V1EndpointSlice) -> String? {
        guard let namespace = slice.metadata.namespace, let service = slice.serviceName, !service.isEmpty else {
            return nil
        }
        return "\(namespace)/\(service)"
    }
}
