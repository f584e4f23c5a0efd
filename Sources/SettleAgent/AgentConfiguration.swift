/// What `settle agent` runs with; every field has a flag (see `settle agent --help`).
public struct AgentConfiguration: Sendable {
    /// Which dataplane to follow.
    public enum Mode: String, Sendable, CaseIterable {
        /// nftables when kube-proxy's nftables tables exist, else IPVS when kube-ipvs0 or virtual
        /// servers exist, else iptables when its chains exist, else nftables (whose events show the
        /// tables when kube-proxy creates them).
        case auto
        case nftables
        case iptables
        /// Polled every ``AgentConfiguration/pollInterval``; virtual servers named from the Services.
        case ipvs
    }

    /// The node this agent speaks for (kube-proxy's `--hostname-override` equivalent).
    public var nodeName: String
    public var mode: Mode = .auto
    /// Read the dataplane of this named network namespace instead of the agent's own (tests, the lab).
    public var netns: String?
    /// How often modes without change events (iptables, IPVS) are read.
    public var pollInterval: Duration = .seconds(2)
    /// How often the nftables mirror is replaced by a full read, events or not.
    public var resyncInterval: Duration = .seconds(600)
    /// The netlink event socket's receive buffer (SO_RCVBUFFORCE); a bulk load beyond it
    /// overflows (ENOBUFS) and costs a full resync.
    public var receiveBufferBytes: Int = 16 << 20
    /// How long a converged transition stays listed in the ack stream.
    public var retention: Duration = .seconds(120)
    /// How often retention is applied and heartbeats are sent.
    public var tickInterval: Duration = .seconds(1)

    /// Who may read the ack stream and state (TokenReview); `nil`: anyone who can connect.
    public var streamAuthentication: StreamAuthenticator.Configuration?

    public init(nodeName: String) {
        self.nodeName = nodeName
    }
}
