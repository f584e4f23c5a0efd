public import SettleSelection
import SettleModel

/// The endpoints *in transition* on one node: whose desired verdict changed, or which diverge,
/// kept until converged plus a retention window (issue #4). Pure and clock-generic: the caller
/// passes `now`, so tests drive time by hand and the agent uses its own clock.
///
/// Feed it every evaluation (``update(_:slices:now:)``). An endpoint enters when its verdict
/// changes between two updates (``TrackedEndpoint/Change``), when it is divergent, or while it is
/// routed only as the terminating fallback; it leaves a `retention` after it last became converged
/// (and not while it is a fallback). An endpoint that disappears from its slice is kept as a
/// tombstone with a synthesised `drained` status, so a preStop waiter still gets an answer after
/// the slice forgot the pod. The first update is a baseline: nothing has "changed" yet, only
/// divergent and fallback endpoints enter.
public struct TransitionTracker<Instant: InstantProtocol> {
    /// How long a converged entry stays listed, so waiters that ask late still see the outcome.
    public var retention: Instant.Duration

    /// Per service port and endpoint, the verdict at the previous update; `nil` before the first.
    /// Keyed by address within each service port: the service port is the outer key already, and
    /// at 150,000 endpoints every byte of the key counts.
    private var previous: [ServicePortKey: [EndpointAddress: Verdict]]?
    private var entries: [EndpointStatus.Key: TrackedEndpoint<Instant>] = [:]

    public init(retention: Instant.Duration) {
        self.retention = retention
    }

    /// What changed in one update: entries added or changed (for an ack stream's deltas) and keys
    /// that left after their retention.
    public struct Update {
        public var changed: [TrackedEndpoint<Instant>]
        public var expired: [EndpointStatus.Key]

        public init(changed: [TrackedEndpoint<Instant>], expired: [EndpointStatus.Key]) {
            self.changed = changed
            self.expired = expired
        }
    }

    /// The endpoints in transition, sorted.
    public var inTransition: [TrackedEndpoint<Instant>] { entries.values.sorted() }

    /// How many endpoints are in transition (without sorting them).
    public var count: Int { entries.count }

    /// The entry for one endpoint, if it is in transition.
    public subscript(key: EndpointStatus.Key) -> TrackedEndpoint<Instant>? { entries[key] }

    /// Whether an endpoint is desired and which slice lists it (`nil`: no slice).
    private struct Verdict: Hashable {
        var desired: Bool
        var slice: SliceReference?
        /// The pod, remembered after the slice stops naming it.
        var targetRef: String? = nil
        var fallback = false
    }

    /// Applies one evaluation made at `now`. `slices` are the node's current slice references (all
    /// of them, if the caller has them): a tombstone takes the newest generation of its slice from
    /// them or from the report, so its acknowledgement names the generation that removed it
    /// (brief §2, freshness); without either it keeps the last generation that listed it, which is
    /// older and so can only make an aggregator wait, never answer early.
    @discardableResult
    public mutating func update(_ report: ConvergenceReport, slices: [SliceReference] = [], now: Instant) -> Update {
        update(report.endpoints, scope: nil, slices: slices, now: now)
    }

    /// Applies a partial evaluation: `statuses` are every status of the service ports in `scope`
    /// (all service ports when `scope` is `nil`), and endpoints of other service ports are left as
    /// they were. The agent re-evaluates only the service ports an event touched, so an update
    /// costs what the change costs, not what the node holds. `slices` should hold at least the
    /// slices of the service ports in scope.
    @discardableResult
    public mutating func update(
        _ statuses: [EndpointStatus], scope: Set<ServicePortKey>?, slices: [SliceReference] = [], now: Instant
    ) -> Update {
        func inScope(_ key: EndpointStatus.Key) -> Bool {
            scope?.contains(ServicePortKey(name: key.servicePort, protocol: key.protocol)) ?? true
        }
        let wasStarted = previous != nil
        var previousInScope: [EndpointStatus.Key: Verdict] = [:]
        if let previous {
            for port in scope.map(Array.init) ?? Array(previous.keys) {
                for (address, verdict) in previous[port] ?? [:] {
                    previousInScope[EndpointStatus.Key(servicePort: port.name, protocol: port.protocol, address: address)] = verdict
                }
            }
        }
        var newest: [String: SliceReference] = [:]
        for slice in slices + statuses.compactMap(\.slice) {
            let id = slice.uid ?? slice.name
            if let known = newest[id], (known.generation ?? 0) >= (slice.generation ?? 0) { continue }
            newest[id] = slice
        }
        func refreshed(_ slice: SliceReference?) -> SliceReference? {
            guard let slice else { return nil }
            return newest[slice.uid ?? slice.name].flatMap { ($0.generation ?? 0) > (slice.generation ?? 0) ? $0 : nil }
                ?? slice
        }

        var current: [EndpointStatus.Key: Verdict] = [:]
        var changed: [TrackedEndpoint<Instant>] = []
        for status in statuses {
            let key = status.key
            let before = previousInScope[key]
            let targetRef = status.targetRef ?? before?.targetRef ?? entries[key]?.status.targetRef
            let verdict = Verdict(
                desired: status.state == .programmed || status.state == .missing, slice: status.slice, targetRef: targetRef,
                fallback: status.fallback)
            current[key] = verdict
            let remembered = before?.slice ?? entries[key]?.status.slice
            var change: TrackedEndpoint<Instant>.Change?
            if wasStarted {
                if verdict.desired && before?.desired != true {
                    change = .added
                } else if !verdict.desired && before?.desired == true {
                    change = verdict.slice == nil ? .tombstone : .removed
                } else if verdict.slice == nil && before?.slice != nil {
                    change = .tombstone
                } else if verdict.fallback && before?.fallback != true {
                    change = .fallback
                }
            }
            if change == nil && !status.state.isConverged && entries[key] == nil { change = .divergent }
            // Routed only as the last serving endpoint: listed for as long as that lasts, so a
            // waiter learns why it is not drained (brief §2).
            if change == nil && status.fallback && entries[key] == nil { change = .fallback }

            var status = status
            status.targetRef = targetRef
            if status.slice == nil, let remembered {
                status.slice = refreshed(remembered)  // a tombstone answers with the slice that dropped it
            }
            let convergedAt: Instant? = status.state.isConverged ? now : nil
            if let change {
                var since = now
                // Dropped from the slice after it already stopped being desired: the same removal.
                if change == .tombstone, let existing = entries[key], existing.change == .removed { since = existing.since }
                let entry = TrackedEndpoint(status: status, change: change, since: since, convergedAt: convergedAt)
                entries[key] = entry
                changed.append(entry)
            } else if var entry = entries[key] {
                let before = entry
                entry.status = status
                entry.convergedAt = status.state.isConverged ? (entry.convergedAt ?? now) : nil
                entries[key] = entry
                if entry != before { changed.append(entry) }
            }
        }

        // Endpoints that left the report (neither listed nor routed any more): drained tombstones.
        var gone = Set(entries.keys.filter { current[$0] == nil && inScope($0) })
        for (key, verdict) in previousInScope where current[key] == nil && entries[key] == nil && verdict.slice != nil {
            gone.insert(key)
        }
        for key in gone {
            let last = entries[key]?.status
            let slice = refreshed(last?.slice ?? previousInScope[key]?.slice)
            let status = EndpointStatus(
                servicePort: key.servicePort, protocol: key.protocol, ip: key.address.ip, port: key.address.port,
                state: .drained, slice: slice, targetRef: last?.targetRef ?? previousInScope[key]?.targetRef, reason: .notInSlices)
            if var entry = entries[key] {
                let before = entry
                entry.status = status
                if entry.change != .added && entry.change != .tombstone {
                    entry.change = .tombstone
                }
                entry.convergedAt = entry.convergedAt ?? now
                entries[key] = entry
                if entry != before { changed.append(entry) }
            } else {
                let entry = TrackedEndpoint(status: status, change: .tombstone, since: now, convergedAt: now)
                entries[key] = entry
                changed.append(entry)
            }
        }

        var expired: [EndpointStatus.Key] = []
        for (key, entry) in entries {
            guard !entry.status.fallback, let convergedAt = entry.convergedAt, convergedAt.advanced(by: retention) <= now else {
                continue
            }
            entries[key] = nil
            expired.append(key)
        }
        var grouped: [ServicePortKey: [EndpointAddress: Verdict]] = [:]
        for (key, verdict) in current {
            grouped[ServicePortKey(name: key.servicePort, protocol: key.protocol), default: [:]][key.address] = verdict
        }
        if let scope, previous != nil {
            // In place: copying the whole map would make a partial update cost the node's size.
            for port in scope { previous![port] = grouped[port] }
        } else {
            previous = grouped
        }
        return Update(changed: changed.sorted(), expired: expired.sorted())
    }
}

extension TransitionTracker: Sendable where Instant: Sendable, Instant.Duration: Sendable {}
extension TransitionTracker.Update: Sendable where Instant: Sendable {}
