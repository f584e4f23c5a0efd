/// One endpoint's state on one node: brief §2's desired × routed table.
///
/// `programmed` and `drained` are converged; `missing` and `stale` mean kube-proxy is behind.
/// Raw values are the JSON spellings of brief §6.
public enum EndpointState: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    /// Desired and routed.
    case programmed
    /// Desired, not routed: a new endpoint is not reachable yet.
    case missing
    /// Not desired, still routed: a removed endpoint still receives new connections.
    case stale
    /// Neither desired nor routed: what a preStop waiter waits for.
    case drained

    /// The state for one cell of the table.
    public init(desired: Bool, routed: Bool) {
        switch (desired, routed) {
        case (true, true): self = .programmed
        case (true, false): self = .missing
        case (false, true): self = .stale
        case (false, false): self = .drained
        }
    }

    /// Whether the dataplane agrees with the desired state for this endpoint.
    public var isConverged: Bool { self == .programmed || self == .drained }

    /// Divergent states first (`missing`, `stale`), so a sorted listing leads with what needs attention.
    public static func < (lhs: EndpointState, rhs: EndpointState) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int {
        switch self {
        case .missing: 0
        case .stale: 1
        case .programmed: 2
        case .drained: 3
        }
    }
}
