import Foundation
public import Logging
public import SettleConvergence
public import SettleDataplane
public import SettleKube
public import SettleKubeClient
public import SettleModel
public import SettleSelection

/// The node agent: keeps kube-proxy's desired state for this node from the API (as kube-proxy
/// does: Services, EndpointSlices, its Node), follows the node's dataplane, and turns every
/// change into acknowledgements (brief §2) — without writing anything anywhere.
///
/// All state lives in one ``SettleConvergence/NodeConvergence`` owned by this actor; inputs
/// arrive from three reflectors and one ``DataplaneFollower``, each evaluated as it comes (only
/// the service ports it touches). Nothing is judged before the first list of each kind and the
/// first dataplane read; then the agent is ready.
public actor NodeAgent {
    public typealias Instant = ContinuousClock.Instant

    public let configuration: AgentConfiguration
    private let client: KubeClient
    private let follower: any DataplaneFollower
    private let logger: Logger
    private let sink: any AgentSink

    private var core: NodeConvergence<Instant>
    private var listed: Set<String> = []
    private var dataplaneRead = false
    private var reportedWatchRestarts = 0
    private var serviceNamesCache: IPVSServiceNames?
    /// The resourceVersion of the last EndpointSlice list, event or bookmark applied: how fresh
    /// this agent's view is.
    public private(set) var sliceResourceVersion: String?
    public private(set) var lastRead: (at: Date, kind: String, duration: Duration)?
    public let counters = (services: ReflectorCounters(), slices: ReflectorCounters(), node: ReflectorCounters())

    public init(
        configuration: AgentConfiguration, client: KubeClient, follower: any DataplaneFollower, sink: any AgentSink,
        logger: Logger = Logger(label: "settle.agent")
    ) {
        self.configuration = configuration
        self.client = client
        self.follower = follower
        self.sink = sink
        self.logger = logger
        self.core = NodeConvergence(node: NodeTopology(name: configuration.nodeName), retention: configuration.retention)
    }

    /// Whether the first lists and the first dataplane read are done.
    public var isReady: Bool { core.isStarted }

    public var mode: DataplaneMode { follower.mode }

    /// Runs until cancelled. Throws when the dataplane cannot be read at all.
    public func run() async throws {
        let client = client
        let node = configuration.nodeName
        let counters = counters
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await Reflector<V1Service>(client: client, selection: .kubeProxy, counters: counters.services, logger: self.logger)
                    .run { await self.services($0) }
            }
            group.addTask {
                await Reflector<V1EndpointSlice>(client: client, selection: .kubeProxy, counters: counters.slices, logger: self.logger)
                    .run { await self.slices($0) }
            }
            group.addTask {
                await Reflector<V1Node>(client: client, selection: .named(node), counters: counters.node, logger: self.logger)
                    .run { await self.node($0) }
            }
            group.addTask {
                for try await update in self.follower.updates(names: { await self.serviceNames() }) { await self.dataplane(update) }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: self.configuration.tickInterval)
                    await self.tick()
                }
            }
            // The first task to end (the dataplane failing for good) ends the agent.
            try await group.next()
            group.cancelAll()
        }
    }

    // MARK: - Inputs

    func services(_ event: ReflectorEvent<V1Service>) {
        switch event {
        case .replaced(let objects, _):
            applyDesired(Self.relist(objects, held: core.desired.services, upsert: { .serviceUpserted($0) }, delete: { .serviceDeleted($0) }))
            listed.insert("services")
        case .added(let service), .modified(let service): applyDesired([.serviceUpserted(service)])
        case .deleted(let service): applyDesired([.serviceDeleted(service)])
        case .bookmark: break
        }
        startIfComplete()
    }

    func slices(_ event: ReflectorEvent<V1EndpointSlice>) {
        switch event {
        // The version is set before the events are applied, so the acks they cause carry it.
        case .replaced(let objects, let rv):
            sliceResourceVersion = rv
            applyDesired(
                Self.relist(objects, held: core.desired.slices, upsert: { .sliceUpserted($0) }, delete: { .sliceDeleted($0) }),
                triggers: Self.triggers(objects))
            listed.insert("slices")
        case .added(let slice), .modified(let slice):
            sliceResourceVersion = slice.metadata.resourceVersion ?? sliceResourceVersion
            applyDesired([.sliceUpserted(slice)], triggers: Self.triggers([slice]))
        case .deleted(let slice):
            sliceResourceVersion = slice.metadata.resourceVersion ?? sliceResourceVersion
            applyDesired([.sliceDeleted(slice)])
        case .bookmark(let rv):
            sliceResourceVersion = rv
        }
        // "Applied up to here": a progress delta when no ack carried the new version.
        if core.isStarted { sink.watchProgress(watchResourceVersion: sliceResourceVersion) }
        startIfComplete()
    }

    func node(_ event: ReflectorEvent<V1Node>) {
        let name = configuration.nodeName
        switch event {
        case .replaced(let objects, _):
            // No Node object (a test cluster, or the Node was deleted): no labels, no zone.
            let node = objects.first { $0.metadata.name == name }
            applyDesired([.nodeChanged(node.map(NodeTopology.init(node:)) ?? NodeTopology(name: name))])
            listed.insert("node")
        case .added(let node), .modified(let node):
            if node.metadata.name == name { applyDesired([.nodeChanged(NodeTopology(node: node))]) }
        case .deleted(let node):
            if node.metadata.name == name { applyDesired([.nodeChanged(NodeTopology(name: name))]) }
        case .bookmark: break
        }
        startIfComplete()
    }

    func dataplane(_ update: RoutedUpdate) {
        let now = ContinuousClock.now
        let wall = Date().timeIntervalSince1970
        let step: NodeConvergence<Instant>.Step
        switch update {
        case .full(let snapshot, let reason, let duration):
            step = core.replaceRouted(snapshot, now: now, wallNow: wall)
            lastRead = (Date(), "full", duration)
            sink.dataplaneRead(kind: "full", reason: reason, duration: duration, warnings: snapshot.warnings)
            publish(step)
        case .incremental(let changed, let receivedAt, let duration, let polled):
            step = core.applyRouted(changed: changed, now: now, wallNow: wall)
            lastRead = (Date(), polled ? "full" : "incremental", duration)
            sink.dataplaneRead(kind: polled ? "full" : "incremental", reason: polled ? "poll" : nil, duration: duration, warnings: [])
            let evaluated = ContinuousClock.now
            publish(step)
            logger.debug(
                "dataplane change applied",
                metadata: [
                    "servicePorts": "\(changed.count)", "decodeAndWalk": "\(duration)", "queued": "\(now - receivedAt)",
                    "evaluate": "\(evaluated - now)", "publish": "\(ContinuousClock.now - evaluated)",
                    "acks": "\(step.update.changed.count)",
                ])
        }
        if !dataplaneRead {
            dataplaneRead = true
            startIfComplete()
        }
    }

    func tick() {
        let restarts = [counters.services, counters.slices, counters.node].reduce(0) { $0 + max(0, $1.snapshot.watchesStarted - 1) }
        if restarts > reportedWatchRestarts {
            sink.watchRestarts(restarts - reportedWatchRestarts)
            reportedWatchRestarts = restarts
        }
        guard core.isStarted else { return }
        publish(core.tick(now: ContinuousClock.now))
        sink.heartbeat(watchResourceVersion: sliceResourceVersion)
    }

    /// The Services' frontends, which name IPVS virtual servers; `nil` before the first Service
    /// list. Built once per change of the desired state, at most once per poll.
    func serviceNames() -> IPVSServiceNames? {
        guard listed.contains("services") else { return nil }
        if let serviceNamesCache { return serviceNamesCache }
        let names = IPVSServiceNames(core.desired.servicePorts.map { (name: $0.name, protocol: $0.protocol, frontends: $0.frontends) })
        serviceNamesCache = names
        return names
    }

    // MARK: - Evaluation

    private func applyDesired(_ events: [DesiredStateCache.Event], triggers: [String: Double] = [:]) {
        guard !events.isEmpty else { return }
        serviceNamesCache = nil
        publish(core.applyDesired(events, triggers: triggers, now: ContinuousClock.now, wallNow: Date().timeIntervalSince1970))
    }

    private func startIfComplete() {
        guard !core.isStarted, dataplaneRead, listed.isSuperset(of: ["services", "slices", "node"]) else { return }
        let step = core.start(now: ContinuousClock.now, wallNow: Date().timeIntervalSince1970)
        logger.info(
            "ready",
            metadata: [
                "node": "\(configuration.nodeName)", "mode": "\(follower.mode.rawValue)",
                "endpoints": "\(core.counts.values.reduce(0, +))", "inTransition": "\(core.tracker.count)",
            ])
        sink.started(acks: core.tracker.inTransition, watchResourceVersion: sliceResourceVersion, mode: follower.mode.rawValue)
        publishCounts(step)
    }

    private func publish(_ step: NodeConvergence<Instant>.Step) {
        guard core.isStarted else { return }
        if !step.update.changed.isEmpty || !step.update.expired.isEmpty {
            sink.acknowledged(step.update, watchResourceVersion: sliceResourceVersion)
        }
        publishCounts(step)
    }

    private func publishCounts(_ step: NodeConvergence<Instant>.Step) {
        sink.evaluated(
            counts: core.counts, fallback: core.fallbackCount, inTransition: core.tracker.count,
            changes: step.update.changed.map(\.change), latencies: step.latencies)
    }

    // MARK: - Reading

    /// Every endpoint that is not converged, and the node's convergence at a glance.
    public func divergent() -> [EndpointStatus] { core.divergent() }

    /// The endpoints in transition (what the ack stream carries).
    public func inTransition() -> [TrackedEndpoint<Instant>] { core.tracker.inTransition }

    /// How many endpoints are in each state.
    public func counts() -> [EndpointState: Int] { core.counts }

    /// The full report (for tests and `/v1/state?all=true`).
    public func report() -> ConvergenceReport { core.report() }

    // MARK: - Helpers

    /// What a (re)list means for the objects held: upserts of the new or changed ones (another
    /// resourceVersion, or none), deletes of those no longer listed.
    static func relist<T: KubeObject>(
        _ listed: [T], held: [String: T], upsert: (T) -> DesiredStateCache.Event, delete: (T) -> DesiredStateCache.Event
    ) -> [DesiredStateCache.Event] {
        var events: [DesiredStateCache.Event] = []
        for object in listed {
            let version = object.metadata.resourceVersion
            if version == nil || held[object.key]?.metadata.resourceVersion != version { events.append(upsert(object)) }
        }
        let present = Set(listed.map(\.key))
        return events + held.values.filter { !present.contains($0.key) }.map(delete)
    }

    /// Slice UID → `endpoints.kubernetes.io/last-change-trigger-time`, as seconds since the epoch;
    /// slices without a UID or a parsable annotation are left out (their changes start when seen).
    public static func triggers(_ slices: [V1EndpointSlice]) -> [String: Double] {
        var out: [String: Double] = [:]
        for slice in slices {
            guard let uid = slice.metadata.uid, let text = slice.metadata.annotations?[lastChangeTriggerTime],
                let seconds = parseRFC3339(text)
            else { continue }
            out[uid] = seconds
        }
        return out
    }

    /// The annotation the EndpointSlice controller sets to when the change that produced this
    /// slice version was triggered (KK `pkg/controller/endpointslice`), which kube-proxy's
    /// `network_programming_duration_seconds` also starts from.
    public static let lastChangeTriggerTime = "endpoints.kubernetes.io/last-change-trigger-time"

    /// Parses RFC 3339 with or without fractional seconds (the controller writes whole seconds).
    /// Format styles are values: no formatter is built per slice of a 10,000-slice list.
    static func parseRFC3339(_ text: String) -> Double? {
        if let date = try? Date(text, strategy: plainRFC3339) { return date.timeIntervalSince1970 }
        return (try? Date(text, strategy: fractionalRFC3339))?.timeIntervalSince1970
    }

    private static let plainRFC3339 = Date.ISO8601FormatStyle()
    private static let fractionalRFC3339 = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// Where the agent's results go: the ack journal, metrics and logs. Called on the agent's actor,
/// so implementations must be quick and must not call back into the agent.
public protocol AgentSink: Sendable {
    /// The baseline: the endpoints in transition when the agent became ready, and the dataplane mode.
    func started(acks: [TrackedEndpoint<ContinuousClock.Instant>], watchResourceVersion: String?, mode: String)
    /// Acks that changed and keys that left after their retention.
    func acknowledged(_ update: TransitionTracker<ContinuousClock.Instant>.Update, watchResourceVersion: String?)
    /// After every evaluation: state counts, the kinds of transitions it started, latency samples (seconds).
    func evaluated(
        counts: [EndpointState: Int], fallback: Int, inTransition: Int, changes: [TrackedEndpoint<ContinuousClock.Instant>.Change],
        latencies: [Double])
    /// A dataplane read (full or incremental) and its cost.
    func dataplaneRead(kind: String, reason: String?, duration: Duration, warnings: [String])
    /// After every EndpointSlice event, list or bookmark once started: the agent has applied the
    /// slices up to this version (acks it caused were already given to ``acknowledged(_:watchResourceVersion:)``).
    func watchProgress(watchResourceVersion: String?)
    /// Once per tick after start.
    func heartbeat(watchResourceVersion: String?)
    /// Watches that had to be started again (ended, failed or expired) since the last call.
    func watchRestarts(_ count: Int)
}

extension NodeAgent: AgentStateProvider {
    public func readiness() async -> AgentReadiness {
        if core.isStarted { return .ready }
        var waiting: [String] = []
        for kind in ["services", "slices", "node"] where !listed.contains(kind) { waiting.append("the first \(kind) list") }
        if !dataplaneRead { waiting.append("the first \(follower.mode.rawValue) read") }
        return .notReady("waiting for " + waiting.joined(separator: ", "))
    }

    public func state() async -> AgentStateDocument {
        let readiness = await readiness()
        let wallTime = Ack.wallTime()
        let inTransition = core.tracker.inTransition
        let byKey = Dictionary(inTransition.map { ($0.status.key, $0) }, uniquingKeysWith: { a, _ in a })
        let notConverged = core.isStarted ? core.divergent().map { status in
            byKey[status.key].map { Ack($0, wallTime: wallTime) }
                ?? Ack(status: status, change: .divergent, since: Date())
        } : []
        var endpoints: [String: Int] = [:]
        for state in EndpointState.allCases { endpoints[state.rawValue] = core.counts[state] ?? 0 }
        return AgentStateDocument(
            node: configuration.nodeName, mode: dataplaneRead ? follower.mode.rawValue : nil, ready: readiness.ready,
            reason: readiness.reason, watch: sliceResourceVersion,
            lastRead: lastRead.map { .init(kind: $0.kind, at: $0.at, durationSeconds: $0.duration.seconds) },
            endpoints: endpoints, inTransition: core.tracker.count, notConverged: notConverged)
    }
}
