/// An endpoint in transition on one node: its current status, what changed and when.
///
/// Generic over the clock's instant so the tracker stays pure and tests drive time by hand.
public struct TrackedEndpoint<Instant: InstantProtocol>: Hashable, Comparable {
    /// How the endpoint's desired verdict changed.
    public enum Change: String, Hashable, Sendable, Codable, CaseIterable {
        /// Newly desired: a new pod, or one that became ready (waiters ask "programmed yet?").
        case added
        /// Still listed, no longer desired: typically became terminating (the preStop question).
        case removed
        /// No longer listed in any slice of its service port (pod relabelled or deleted): kept as a
        /// tombstone so its draining is still reported after the slice forgot it.
        case tombstone
        /// Still desired, but only through kube-proxy's fallback to serving-terminating endpoints (it
        /// is the last serving endpoint): `programmed` with `fallback: true`, kept on purpose. Listed
        /// for as long as the fallback lasts, so a drain waiter is told why the node does not drain.
        case fallback
        /// Divergent without a change seen by this tracker (at start-up, or the dataplane moved on its own).
        case divergent
    }

    /// The latest status. For a tombstone that no longer appears in the report, a synthesised
    /// `drained` status carrying the slice reference of the change (brief §2, freshness).
    public var status: EndpointStatus
    public var change: Change
    /// When the change (or divergence) was first observed.
    public var since: Instant
    /// When the status last became converged; `nil` while divergent. The entry is dropped a
    /// retention window after this.
    public var convergedAt: Instant?

    public init(status: EndpointStatus, change: Change, since: Instant, convergedAt: Instant? = nil) {
        self.status = status
        self.change = change
        self.since = since
        self.convergedAt = convergedAt
    }

    public static func < (lhs: TrackedEndpoint, rhs: TrackedEndpoint) -> Bool { lhs.status < rhs.status }
}

extension TrackedEndpoint: Sendable where Instant: Sendable {}
