/// Counters of what a ``Reflector`` went through; the raw material for metrics later.
public struct ReflectorStatistics: Hashable, Sendable {
    /// Complete LISTs (the first one plus every relist).
    public var lists = 0
    /// Relists forced by `410 Gone` (HTTP status or `ERROR` event).
    public var goneRelists = 0
    /// WATCH requests answered with 200.
    public var watchesStarted = 0
    /// Watches the server ended cleanly (timeoutSeconds, restart).
    public var watchesEnded = 0
    /// Failures followed by a backoff: HTTP errors, broken or truncated streams, timeouts.
    public var failures = 0
    /// Of ``failures``: request or idle timeouts (a hung server).
    public var timeouts = 0
    /// Of ``failures``: streams cut in the middle of an event line.
    public var truncatedStreams = 0
    /// Complete lines that did not decode and were skipped.
    public var skippedLines = 0
    /// ADDED/MODIFIED/DELETED events received.
    public var events = 0
    /// BOOKMARK events received.
    public var bookmarks = 0
    /// The RV the next watch resumes from.
    public var lastResourceVersion: String?

    /// Starts empty.
    public init() {}
}
