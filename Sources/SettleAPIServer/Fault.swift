/// A misbehaviour the stand-in performs on purpose, so tests can prove the client survives it.
///
/// Faults are queued with ``APIServerState/inject(_:)`` and each one is consumed by the next request
/// it targets, in order.
public struct Fault: Hashable, Sendable {
    /// Which requests a fault applies to.
    public enum Target: Hashable, Sendable {
        case any, list, watch
    }

    /// What the server does instead of (or before) answering normally.
    public enum Action: Hashable, Sendable {
        /// Answer with this HTTP status and a `Status` body (e.g. 500, 503, 410).
        case status(Int)
        /// Wait, then answer normally.
        case delay(Duration)
        /// Never answer: no status line, no headers (until ``APIServerState/releaseHangs()`` or shutdown).
        case hang
        /// Send `200` headers, then nothing at all: a watch (or list body) that goes silent.
        case stallAfterHeaders
        /// Watch only: send this many whole event lines, then half of the next line, then drop the connection.
        case cutWatch(afterEvents: Int)
    }

    /// Which requests the fault applies to.
    public var target: Target
    /// What the server does instead.
    public var action: Action

    /// A fault for the next request matching `target`.
    public init(_ action: Action, target: Target = .any) {
        self.target = target
        self.action = action
    }
}
