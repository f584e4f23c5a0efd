/// A request as the stand-in saw it, for tests that check what a client sent.
public struct RecordedRequest: Hashable, Sendable {
    /// HTTP method, e.g. `GET`.
    public var method: String
    /// Dotted path into the object, e.g. `metadata.name`.
    public var path: String
    /// Decoded query parameters (the last value wins when a key repeats).
    public var query: [String: String]
    /// The `Authorization` header, if any.
    public var authorization: String?

    /// Whether this was a watch (`watch=true|1` or a legacy `/watch/` path).
    public var isWatch: Bool {
        Self.isTrue(query["watch"]) || path.contains("/watch/")
    }

    static func isTrue(_ value: String?) -> Bool {
        guard let value = value?.lowercased() else { return false }
        return value == "true" || value == "1"
    }
}
