/// The aggregator's pure core (issue #5): what every node acknowledged, what the aggregator saw in
/// the EndpointSlices, and the answers to "is endpoint X drained (programmed) on every counted
/// node?" — value types, no I/O. See docs/api.md.
public enum SettleAggregation {
    /// The aggregator's default HTTP port.
    public static let defaultPort = 9468
}
