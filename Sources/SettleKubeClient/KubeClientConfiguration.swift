/// Where the API server is and how to talk to it: the resolved form of kubeconfig or in-cluster settings.
public struct KubeClientConfiguration: Hashable, Sendable {
    /// Base URL, e.g. `https://10.96.0.1:443` or `http://127.0.0.1:8080` (the lab stand-in).
    public var server: String
    /// How requests authenticate.
    public var credentials: KubeCredentials
    /// Server verification and client identity for `https` servers.
    public var tls: TLSSettings
    /// The namespace of the current context (informational; lists span all namespaces unless asked).
    public var namespace: String?
    /// Connect timeout.
    public var connectTimeout: Duration
    /// Time allowed until response headers arrive (LIST and the start of a WATCH).
    public var requestTimeout: Duration
    /// Longest silence tolerated while reading a body; a hung watch is dropped and resumed after this.
    /// Keep it above the server's bookmark interval (about a minute for kube-apiserver).
    public var idleTimeout: Duration

    /// Timeouts default to 10 s connect, 60 s until headers, 5 min of silence.
    public init(
        server: String, credentials: KubeCredentials = .none, tls: TLSSettings = .init(), namespace: String? = nil,
        connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(60), idleTimeout: Duration = .seconds(300)
    ) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.credentials = credentials
        self.tls = tls
        self.namespace = namespace
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
    }
}
