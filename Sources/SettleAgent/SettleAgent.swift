/// The node agent (issue #4): watches Services and EndpointSlices, follows the node's dataplane,
/// and publishes per-endpoint acknowledgements over HTTP. See docs/agent.md.
public enum SettleAgent {
    /// The agent's default HTTP port.
    public static let defaultPort = 9467
}
