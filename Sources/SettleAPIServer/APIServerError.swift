/// Errors starting the stand-in.
public enum APIServerError: Error, Sendable, CustomStringConvertible {
    case notListening

    /// One sentence for logs and test failures.
    public var description: String { "the stand-in API server did not start listening in time" }
}
