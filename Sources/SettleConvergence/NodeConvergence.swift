public import SettleModel
public import SettleSelection

/// One node's convergence, kept current one change at a time: the agent's pure core.
///
/// Holds the desired state (a ``SettleSelection/DesiredStateCache`` fed with API events), what
/// the dataplane routes per service port, every endpoint's status and the endpoints in
/// transition. Each input — API events, a full dataplane snapshot, or the service ports one
/// dataplane transaction changed — re-evaluates only the service ports it touches, so a change
/// costs what the change costs, not what the node holds (brief §4: 150,000 endpoints).
///
/// After any sequence of inputs, ``report()`` equals ``Convergence/evaluate(desired:routed:)``
/// over the same desired state and dataplane (tests hold it to that).
///
/// Clock-generic like ``TransitionTracker``: the caller passes `now`. Wall-clock times (for the
/// convergence latency, which starts at a slice's `last-change-trigger-time`) are seconds since
/// the Unix epoch, passed in as well.
public struct NodeConvergence<Instant: InstantProtocol> {
    public private(set) var desired: DesiredStateCache
    /// How many endpoint statuses are in each state.
    public private(set) var counts: [EndpointState: Int] = [:]
    /// How many `programmed` endpoints are routed only as the terminating fallback.
    public private(set) var fallbackCount = 0
    public private(set) var tracker: TransitionTracker<Instant>

    /// Routed endpoints per service port; unnamed routed ports (raw IPVS) under ``unnamedKey(_:)``.
    private var routed: [ServicePortKey: Set<EndpointAddress>] = [:]
    /// Per routed identity (``SettleModel/RoutedServicePort/identity``): its key and endpoints,
    /// so an incremental change can replace one identity's contribution.
    private var routedByIdentity: [String: (key: ServicePortKey, endpoints: Set<EndpointAddress>)] = [:]
    /// Per evaluated service port, how many of its endpoints are in each state: enough to keep
    /// ``counts`` current without holding every status (150,000 of them at brief §4's scale);
    /// statuses are recomputed when asked for.
    private var tallies: [ServicePortKey: Tally] = [:]

    struct Tally: Hashable {
        var programmed: Int32 = 0
        var missing: Int32 = 0
        var stale: Int32 = 0
        var drained: Int32 = 0
        var fallback: Int32 = 0

        init(_ statuses: [EndpointStatus]) {
            for status in statuses {
                switch status.state {
                case .programmed: programmed += 1
                case .missing: missing += 1
                case .stale: stale += 1
                case .drained: drained += 1
                }
                if status.fallback { fallback += 1 }
            }
        }

        var isEmpty: Bool { self == Tally([]) }
    }
    /// When the change an in-transition endpoint is waiting on was triggered (wall seconds).
    private var triggers: [EndpointStatus.Key: Double] = [:]
    /// Inputs are only stored until ``start(now:wallNow:)``: judging a node before both the first
    /// list and the first dataplane read would report everything as diverging.
    public private(set) var isStarted = false

    public init(node: NodeTopology, options: SelectionOptions = SelectionOptions(), retention: Instant.Duration) {
        self.desired = DesiredStateCache(node: node, options: options)
        self.tracker = TransitionTracker(retention: retention)
    }

    /// What one input did.
    public struct Step {
        /// Acks that changed and keys that expired: the ack stream's delta.
        public var update: TransitionTracker<Instant>.Update
        /// Seconds from each converged change's trigger to now (the latency histogram's samples).
        public var latencies: [Double] = []
        /// How many service ports were re-evaluated.
        public var evaluated: Int = 0
    }

    /// The service port under which routed ports without a name (raw IPVS) are reported.
    public static func unnamedKey(_ proto: L4Protocol) -> ServicePortKey {
        ServicePortKey(name: ServicePortName(namespace: "?", name: "?", port: ""), protocol: proto)
    }

    // MARK: - Inputs

    /// Applies API events. `triggers` maps a slice UID to its `last-change-trigger-time` (wall
    /// seconds) for the slices in `events`; changes without one start at `wallNow`.
    public mutating func applyDesired(
        _ events: [DesiredStateCache.Event], triggers sliceTriggers: [String: Double] = [:], now: Instant, wallNow: Double
    ) -> Step {
        let changes = desired.apply(events)
        let scope = Set(changes.map(\.key))
        return evaluate(scope: scope, sliceTriggers: sliceTriggers, now: now, wallNow: wallNow)
    }

    /// Replaces the whole routed side with a full read.
    public mutating func replaceRouted(_ snapshot: DataplaneSnapshot, now: Instant, wallNow: Double) -> Step {
        var scope = Set(routed.keys)
        routed = [:]
        routedByIdentity = [:]
        for port in snapshot.servicePorts {
            let key = Self.key(of: port)
            let endpoints = Set(port.endpoints)
            routedByIdentity[port.identity] = (key, routedByIdentity[port.identity].map { $0.endpoints.union(endpoints) } ?? endpoints)
            routed[key, default: []].formUnion(endpoints)
            scope.insert(key)
        }
        return evaluate(scope: scope, now: now, wallNow: wallNow)
    }

    /// Applies one dataplane transaction: each changed identity's current routing (`nil` when the
    /// service port left the dataplane).
    public mutating func applyRouted(changed: [String: RoutedServicePort?], now: Instant, wallNow: Double) -> Step {
        var scope = Set<ServicePortKey>()
        for (identity, port) in changed {
            if let old = routedByIdentity.removeValue(forKey: identity) { scope.insert(old.key) }
            if let port {
                let key = Self.key(of: port)
                routedByIdentity[identity] = (key, Set(port.endpoints))
                scope.insert(key)
            }
        }
        // Rebuild the touched keys from their identities (several identities can share a key:
        // unnamed ports of one protocol).
        for key in scope { routed[key] = nil }
        if !scope.isEmpty {
            for (_, entry) in routedByIdentity where scope.contains(entry.key) {
                routed[entry.key, default: []].formUnion(entry.endpoints)
            }
        }
        return evaluate(scope: scope, now: now, wallNow: wallNow)
    }

    /// Evaluates everything once, as the tracker's baseline: call it when the API caches have
    /// synced and the dataplane was read for the first time.
    public mutating func start(now: Instant, wallNow: Double) -> Step {
        isStarted = true
        let scope = Set(routed.keys).union(desired.servicePorts.map(\.key))
        return evaluate(scope: scope, now: now, wallNow: wallNow, baseline: true)
    }

    /// Lets retention expire entries when nothing else happens.
    public mutating func tick(now: Instant) -> Step {
        Step(update: tracker.update([], scope: [], now: now))
    }

    // MARK: - Reading

    /// Every endpoint's status, as ``Convergence/evaluate(desired:routed:)`` gives it (computed
    /// now, from the desired state and what is routed; empty before ``start(now:wallNow:)``).
    public func report() -> ConvergenceReport {
        guard isStarted else { return ConvergenceReport(endpoints: []) }
        let keys = Set(routed.keys).union(desired.servicePorts.map(\.key))
        return ConvergenceReport(endpoints: keys.flatMap { evaluate(key: $0) })
    }

    /// The endpoints that are `missing` or `stale`, sorted: only the service ports that have any are
    /// evaluated, so this is cheap on a converged node.
    public func divergent() -> [EndpointStatus] {
        tallies.filter { $0.value.missing + $0.value.stale > 0 }.keys
            .flatMap { evaluate(key: $0) }.filter { !$0.state.isConverged }.sorted()
    }

    /// The statuses of one service port.
    public func statuses(of key: ServicePortKey) -> [EndpointStatus] { isStarted ? evaluate(key: key) : [] }

    /// No endpoint is `missing` or `stale`.
    public var converged: Bool { (counts[.missing] ?? 0) == 0 && (counts[.stale] ?? 0) == 0 }

    // MARK: - Evaluation

    static func key(of port: RoutedServicePort) -> ServicePortKey {
        port.name.map { ServicePortKey(name: $0, protocol: port.protocol) } ?? unnamedKey(port.protocol)
    }

    /// One service port's statuses; unnamed routed ports (``unnamedKey(_:)``) have no desired
    /// Service, so they come out `stale` like any port the desired state does not know.
    private func evaluate(key: ServicePortKey) -> [EndpointStatus] {
        let ports = desired.servicePorts(ofService: "\(key.name.namespace)/\(key.name.name)").filter { $0.key == key }
        if ports.isEmpty { return Convergence.unknown(key: key, routed: routed[key] ?? []) }
        return Convergence.evaluate(
            key: key, desired: ports.flatMap(\.endpoints), excluded: ports.flatMap(\.excluded), routed: routed[key])
    }

    private mutating func evaluate(
        scope: Set<ServicePortKey>, sliceTriggers: [String: Double] = [:], now: Instant, wallNow: Double, baseline: Bool = false
    ) -> Step {
        guard isStarted else { return Step(update: .init(changed: [], expired: [])) }
        var fresh: [EndpointStatus] = []
        var slices: [SliceReference] = []
        var services = Set<String>()
        for key in scope {
            let new = evaluate(key: key)
            let tally = Tally(new)
            if let old = tallies[key] { count(old, -1) }
            count(tally, +1)
            tallies[key] = tally.isEmpty ? nil : tally
            fresh += new
            let service = "\(key.name.namespace)/\(key.name.name)"
            if services.insert(service).inserted { slices += desired.sliceReferences(ofService: service) }
        }
        let update = tracker.update(fresh, scope: baseline ? nil : scope, slices: slices, now: now)

        var step = Step(update: update, evaluated: scope.count)
        for entry in update.changed {
            let key = entry.status.key
            if entry.change != .divergent, entry.since == now {
                // A new change: it started at its slice's trigger time, or now.
                triggers[key] = entry.status.slice?.uid.flatMap { sliceTriggers[$0] } ?? wallNow
            }
            if entry.convergedAt != nil, let start = triggers.removeValue(forKey: key) {
                step.latencies.append(max(0, wallNow - start))
            }
        }
        for key in update.expired { triggers[key] = nil }
        return step
    }

    private mutating func count(_ tally: Tally, _ sign: Int) {
        counts[.programmed, default: 0] += sign * Int(tally.programmed)
        counts[.missing, default: 0] += sign * Int(tally.missing)
        counts[.stale, default: 0] += sign * Int(tally.stale)
        counts[.drained, default: 0] += sign * Int(tally.drained)
        fallbackCount += sign * Int(tally.fallback)
    }
}

extension NodeConvergence: Sendable where Instant: Sendable, Instant.Duration: Sendable {}
extension NodeConvergence.Step: Sendable where Instant: Sendable {}
