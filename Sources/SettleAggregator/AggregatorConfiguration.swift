public import SettleAggregation

/// How `settle aggregator` runs (docs/api.md, `settle aggregator --help`).
public struct AggregatorConfiguration: Sendable {
    /// Agents given on the command line: node name → agent base URL (`http://10.0.0.1:9467`).
    public var staticAgents: [String: String]
    /// Find agents by their pods: namespace and label selector; `nil` namespace disables discovery.
    public var agentNamespace: String?
    public var agentSelector: String
    public var agentPort: Int
    /// Watch Node objects for eligibility (NotReady, being deleted, nodes without agent).
    public var watchNodes: Bool
    public var unknownNodes: UnknownNodePolicy
    /// An agent stream silent this long makes its node `unknown` and is reconnected.
    public var silenceTimeout: Duration
    /// A Node NotReady this long is excluded.
    public var notReadyGrace: Duration
    /// Most waits open at once (more get 429) and the longest `wait=` accepted (longer gets 400).
    public var maxWaiters: Int
    public var maxWait: Duration
    /// How long endpoints that left every slice (and their pods) are remembered.
    public var remember: Duration
    /// How often time-driven state (silence, grace periods, forgetting) is applied.
    public var tickInterval: Duration
    /// Delay before reconnecting a broken agent stream; doubles up to ``reconnectMaximum``.
    public var reconnectInitial: Duration
    public var reconnectMaximum: Duration

    /// A file holding the bearer token presented to agents (a projected service-account token,
    /// re-read on every connection as kubelet rotates it); `nil`: none.
    public var agentTokenFile: String?

    public init(
        staticAgents: [String: String] = [:], agentNamespace: String? = nil,
        agentSelector: String = "app.kubernetes.io/name=settle-agent", agentPort: Int = 9467, watchNodes: Bool = true,
        unknownNodes: UnknownNodePolicy = .block, silenceTimeout: Duration = .seconds(15), notReadyGrace: Duration = .seconds(300),
        maxWaiters: Int = 10_000, maxWait: Duration = .seconds(300), remember: Duration = .seconds(600),
        tickInterval: Duration = .seconds(1), reconnectInitial: Duration = .milliseconds(200), reconnectMaximum: Duration = .seconds(5)
    ) {
        self.staticAgents = staticAgents
        self.agentNamespace = agentNamespace
        self.agentSelector = agentSelector
        self.agentPort = agentPort
        self.watchNodes = watchNodes
        self.unknownNodes = unknownNodes
        self.silenceTimeout = silenceTimeout
        self.notReadyGrace = notReadyGrace
        self.maxWaiters = maxWaiters
        self.maxWait = maxWait
        self.remember = remember
        self.tickInterval = tickInterval
        self.reconnectInitial = reconnectInitial
        self.reconnectMaximum = reconnectMaximum
    }
}

extension Duration {
    /// Seconds as a `Double`.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
