/// The ack stream's types (``Ack``, ``AckMessage``, ``AckWire``) live in `SettleAcks`, shared with
/// the aggregator; the agent's users get them with `import SettleAgent`.
@_exported public import SettleAcks

/// The node agent (issue #4): watches Services and EndpointSlices, follows the node's dataplane,
/// and publishes per-endpoint acknowledgements over HTTP. See docs/agent.md.
public enum SettleAgent {
    /// The agent's default HTTP port.
    public static let defaultPort = 9467
}
