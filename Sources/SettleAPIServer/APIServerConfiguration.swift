/// How to start a stand-in API server.
public struct APIServerConfiguration: Sendable {
    /// Loopback by default: the stand-in is for tests and the lab, never a real network.
    public var host: String
    /// 0 picks a free port; read it back with ``APIServer/waitForPort(timeout:)``.
    public var port: Int
    /// Resource types served (more are added when a test creates an unknown kind).
    public var resources: [APIResource]
    /// How many changes the watch history keeps before older resourceVersions expire.
    public var historyLimit: Int
    /// How often watches that allow bookmarks get one.
    public var bookmarkInterval: Duration
    /// How an expired resourceVersion is reported to a watch.
    public var goneMode: APIServerState.GoneMode
    /// When set, requests need `Authorization: Bearer <one of these>`.
    public var acceptedBearerTokens: Set<String>?
    /// Upper bound on a hang fault.
    public var hangLimit: Duration
    /// A small EndpointSlice controller (off by default): when a pod is written, it leaves the slices of every
    /// Service whose selector no longer matches it (or once it is deleted), and joins a slice of a Service that
    /// matches it again. Only pod writes trigger it, so slices a test writes by hand stay as written.
    public var endpointSliceController: Bool

    /// Loopback, an ephemeral port, the default resources, 1000 changes of history, bookmarks every minute.
    public init(
        host: String = "127.0.0.1", port: Int = 0, resources: [APIResource] = APIResource.defaults,
        historyLimit: Int = 1000, bookmarkInterval: Duration = .seconds(60),
        goneMode: APIServerState.GoneMode = .errorEvent, acceptedBearerTokens: Set<String>? = nil,
        hangLimit: Duration = .seconds(300), endpointSliceController: Bool = false
    ) {
        self.host = host
        self.port = port
        self.resources = resources
        self.historyLimit = historyLimit
        self.bookmarkInterval = bookmarkInterval
        self.goneMode = goneMode
        self.acceptedBearerTokens = acceptedBearerTokens
        self.hangLimit = hangLimit
        self.endpointSliceController = endpointSliceController
    }
}
