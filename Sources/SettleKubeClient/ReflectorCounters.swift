import Synchronization

/// Thread-safe holder of a reflector's ``ReflectorStatistics``, readable while it runs.
public final class ReflectorCounters: Sendable {
    private let state = Mutex(ReflectorStatistics())

    /// Starts empty.
    public init() {}

    /// A copy of the current counters.
    public var snapshot: ReflectorStatistics { state.withLock { $0 } }

    func update(_ body: (inout ReflectorStatistics) -> Void) {
        state.withLock { body(&$0) }
    }
}
