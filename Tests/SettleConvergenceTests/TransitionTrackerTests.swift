import SettleConvergence
import SettleModel
import SettleSelection
import Testing

/// `TransitionTracker`: which endpoints are in transition, tombstones, freshness and retention,
/// driven by hand-made reports and a hand-made clock.
struct TransitionTrackerTests {
    /// Seconds since an arbitrary start: the tracker is generic over the instant.
    struct Tick: InstantProtocol {
        var seconds: Int64
        func advanced(by duration: Duration) -> Tick { Tick(seconds: seconds + duration.components.seconds) }
        func duration(to other: Tick) -> Duration { .seconds(other.seconds - seconds) }
        static func < (lhs: Tick, rhs: Tick) -> Bool { lhs.seconds < rhs.seconds }
    }

    static func t(_ seconds: Int64) -> Tick { Tick(seconds: seconds) }

    static func slice(_ generation: Int64) -> SliceReference {
        SliceReference(name: "web-abc", uid: "uid-web-abc", generation: generation)
    }

    static func status(
        _ ip: String, _ state: EndpointState, generation: Int64? = 1, reason: EndpointStatus.Reason = .desiredAndRouted
    ) -> EndpointStatus {
        EndpointStatus(
            servicePort: Fixture.web, protocol: .tcp, ip: IPAddress(ip)!, port: 8080, state: state,
            slice: generation.map(slice), reason: reason)
    }

    static func report(_ statuses: EndpointStatus...) -> ConvergenceReport { ConvergenceReport(endpoints: statuses) }

    static func key(_ ip: String) -> EndpointStatus.Key {
        EndpointStatus.Key(servicePort: Fixture.web, protocol: .tcp, address: EndpointAddress(ip: IPAddress(ip)!, port: 8080))
    }

    /// Nothing has changed at start-up; only what diverges is in transition.
    @Test("the first update is a baseline: only divergent endpoints enter")
    func baseline() {
        var tracker = TransitionTracker<Tick>(retention: .seconds(30))
        tracker.update(Self.report(Self.status("10.0.0.1", .programmed), Self.status("10.0.0.2", .missing)), now: Self.t(0))
        #expect(tracker.inTransition.map(\.status.key) == [Self.key("10.0.0.2")])
        #expect(tracker.inTransition.map(\.change) == [.divergent])
    }

    /// The preStop flow: desired → terminating (stale while routed) → drained → gone after retention.
    @Test("a removed endpoint is tracked while stale, marked converged when drained, and expires after the retention")
    func removal() throws {
        var tracker = TransitionTracker<Tick>(retention: .seconds(30))
        tracker.update(Self.report(Self.status("10.0.0.1", .programmed)), now: Self.t(0))
        #expect(tracker.inTransition.isEmpty)

        let stale = tracker.update(
            Self.report(Self.status("10.0.0.1", .stale, generation: 2, reason: .terminating)), now: Self.t(5))
        let entry = try #require(tracker[Self.key("10.0.0.1")])
        #expect(entry.change == .removed && entry.since == Self.t(5) && entry.convergedAt == nil)
        #expect(entry.status.slice?.generation == 2)
        #expect(stale.changed.count == 1)

        tracker.update(Self.report(Self.status("10.0.0.1", .drained, generation: 2, reason: .terminating)), now: Self.t(7))
        #expect(tracker[Self.key("10.0.0.1")]?.convergedAt == Self.t(7))
        #expect(tracker[Self.key("10.0.0.1")]?.since == Self.t(5))

        let early = tracker.update(Self.report(Self.status("10.0.0.1", .drained, generation: 2, reason: .terminating)), now: Self.t(36))
        #expect(early.expired.isEmpty && early.changed.isEmpty)
        let late = tracker.update(Self.report(Self.status("10.0.0.1", .drained, generation: 2, reason: .terminating)), now: Self.t(37))
        #expect(late.expired == [Self.key("10.0.0.1")])
        #expect(tracker.inTransition.isEmpty)
    }

    /// "Relabel the pod first": the slice drops the endpoint while kube-proxy still routes it; the
    /// answer keeps naming the slice generation that removed it, and survives the endpoint
    /// vanishing from the report once the rules drop it.
    @Test("an endpoint removed from its slice becomes a tombstone with the removing generation, then drains")
    func tombstone() throws {
        var tracker = TransitionTracker<Tick>(retention: .seconds(30))
        tracker.update(
            Self.report(Self.status("10.0.0.1", .programmed, generation: 7), Self.status("10.0.0.2", .programmed, generation: 7)),
            now: Self.t(0))

        tracker.update(
            Self.report(
                Self.status("10.0.0.1", .stale, generation: nil, reason: .notInSlices),
                Self.status("10.0.0.2", .programmed, generation: 8)),
            now: Self.t(1))
        let stale = try #require(tracker[Self.key("10.0.0.1")])
        #expect(stale.change == .tombstone && stale.status.state == .stale)
        #expect(stale.status.slice == Self.slice(8))

        let update = tracker.update(Self.report(Self.status("10.0.0.2", .programmed, generation: 8)), now: Self.t(2))
        let drained = try #require(tracker[Self.key("10.0.0.1")])
        #expect(drained.status.state == .drained && drained.status.reason == .notInSlices)
        #expect(drained.status.slice == Self.slice(8))
        #expect(drained.since == Self.t(1) && drained.convergedAt == Self.t(2))
        #expect(update.changed.map(\.status.key) == [Self.key("10.0.0.1")])
    }

    /// Removed from the slice and from the rules between two looks: still reported, drained.
    @Test("an endpoint that vanishes between two updates is a drained tombstone; its slice's generation comes from `slices`")
    func vanished() throws {
        var tracker = TransitionTracker<Tick>(retention: .seconds(30))
        tracker.update(Self.report(Self.status("10.0.0.1", .programmed, generation: 3)), now: Self.t(0))
        tracker.update(Self.report(), slices: [Self.slice(4)], now: Self.t(1))
        let entry = try #require(tracker[Self.key("10.0.0.1")])
        #expect(entry.change == .tombstone && entry.status.state == .drained)
        #expect(entry.status.slice == Self.slice(4))
        #expect(entry.convergedAt == Self.t(1))
    }

    /// A new pod: "programmed everywhere yet?" is the arrival question.
    @Test("a newly desired endpoint is added, missing until routed, then converged")
    func arrival() throws {
        var tracker = TransitionTracker<Tick>(retention: .seconds(10))
        tracker.update(Self.report(), now: Self.t(0))
        tracker.update(Self.report(Self.status("10.0.0.3", .missing, reason: .notRouted)), now: Self.t(1))
        #expect(tracker[Self.key("10.0.0.3")]?.change == .added)
        #expect(tracker[Self.key("10.0.0.3")]?.convergedAt == nil)
        tracker.update(Self.report(Self.status("10.0.0.3", .programmed)), now: Self.t(2))
        #expect(tracker[Self.key("10.0.0.3")]?.change == .added)
        #expect(tracker[Self.key("10.0.0.3")]?.convergedAt == Self.t(2))
        tracker.update(Self.report(Self.status("10.0.0.3", .programmed)), now: Self.t(12))
        #expect(tracker.inTransition.isEmpty)
    }

    /// Converged, then divergent again before the retention ran out: the clock restarts.
    @Test("an entry that diverges again is no longer converged")
    func divergesAgain() {
        var tracker = TransitionTracker<Tick>(retention: .seconds(10))
        tracker.update(Self.report(Self.status("10.0.0.1", .missing)), now: Self.t(0))
        tracker.update(Self.report(Self.status("10.0.0.1", .programmed)), now: Self.t(1))
        #expect(tracker[Self.key("10.0.0.1")]?.convergedAt == Self.t(1))
        tracker.update(Self.report(Self.status("10.0.0.1", .missing)), now: Self.t(5))
        #expect(tracker[Self.key("10.0.0.1")]?.convergedAt == nil)
        tracker.update(Self.report(Self.status("10.0.0.1", .missing)), now: Self.t(20))
        #expect(tracker.inTransition.count == 1)
    }

    /// The agent re-evaluates only the service ports an event touched: a partial update must
    /// leave other service ports alone (no false tombstones) and still see removals in its scope.
    @Test("a scoped update judges only its service ports; other ports keep their state")
    func scopedUpdate() throws {
        let other = ServicePortName(namespace: "ns", name: "db", port: "sql")
        func otherStatus(_ ip: String, _ state: EndpointState) -> EndpointStatus {
            EndpointStatus(servicePort: other, protocol: .tcp, ip: IPAddress(ip)!, port: 5432, state: state,
                           slice: SliceReference(name: "db-1", uid: "uid-db-1", generation: 1), reason: .desiredAndRouted)
        }
        let web = ServicePortKey(name: Fixture.web, protocol: .tcp)
        let db = ServicePortKey(name: other, protocol: .tcp)
        var tracker = TransitionTracker<Tick>(retention: .seconds(30))
        tracker.update(Self.report(Self.status("10.0.0.1", .programmed), otherStatus("10.0.1.1", .programmed)), now: Self.t(0))

        // Only web is re-evaluated; db is absent from the statuses but out of scope: not a tombstone.
        let update = tracker.update([Self.status("10.0.0.1", .stale, generation: 2, reason: .terminating)], scope: [web], now: Self.t(1))
        #expect(update.changed.map(\.status.key) == [Self.key("10.0.0.1")])
        #expect(tracker.inTransition.map(\.change) == [.removed])

        // db's endpoint leaves its slice: a scoped update of db sees the removal.
        let removal = tracker.update([], scope: [db], slices: [SliceReference(name: "db-1", uid: "uid-db-1", generation: 2)], now: Self.t(2))
        let tombstone = try #require(removal.changed.first)
        #expect(tombstone.change == .tombstone && tombstone.status.state == .drained)
        #expect(tombstone.status.slice?.generation == 2)
        // web's entry was not touched by db's update.
        #expect(tracker[Self.key("10.0.0.1")]?.status.state == .stale)
    }
}

extension TransitionTrackerTests {
    /// The last serving endpoint turns terminating: kube-proxy keeps routing it (fallback). The
    /// tracker lists it for as long as that lasts, then follows it to drained.
    @Test("a fallback endpoint is listed while the fallback lasts, and never expires during it")
    func fallback() throws {
        var tracker = TransitionTracker<Tick>(retention: .seconds(30))
        tracker.update(Self.report(Self.status("10.0.0.1", .programmed)), now: Self.t(0))
        var status = Self.status("10.0.0.1", .programmed, generation: 2)
        status.fallback = true
        let update = tracker.update(Self.report(status), now: Self.t(1))
        let entry = try #require(update.changed.first)
        #expect(entry.change == .fallback && entry.status.fallback && entry.convergedAt == Self.t(1))
        // Long past the retention, still listed.
        #expect(tracker.update(Self.report(status), now: Self.t(100)).expired.isEmpty)
        #expect(tracker[Self.key("10.0.0.1")] != nil)
        // Then it is no longer desired (a ready endpoint appeared) and the dataplane drops it.
        let removed = tracker.update(Self.report(Self.status("10.0.0.1", .stale, generation: 3, reason: .terminating)), now: Self.t(101))
        #expect(removed.changed.first?.change == .removed)
        tracker.update(Self.report(Self.status("10.0.0.1", .drained, generation: 3, reason: .terminating)), now: Self.t(102))
        #expect(tracker.update(Self.report(Self.status("10.0.0.1", .drained, generation: 3, reason: .terminating)), now: Self.t(132)).expired
            == [Self.key("10.0.0.1")])
    }
}
