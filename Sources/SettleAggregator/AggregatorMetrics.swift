public import Prometheus
public import SettleAggregation

/// The aggregator's Prometheus metrics (docs/metrics.md), in a registry of its own, like the
/// agent's. Every label value is from a closed set.
public final class AggregatorMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    /// How a wait ended.
    public enum WaitResult: String, Sendable, CaseIterable {
        case done, timeout, cancelled
    }

    /// Why an agent stream ended.
    public enum StreamFailure: String, Sendable, CaseIterable {
        /// Connection refused, reset or closed, or a non-200 answer.
        case disconnected
        /// The agent sent something that is not the ack stream; it was disconnected.
        case malformed
        /// Nothing arrived for the silence timeout; it was reconnected.
        case silent
    }

    /// Wait durations: 1 ms to ~65 s, doubling, then the 5-minute cap.
    public static let waitBuckets: [Double] = (0..<17).map { 0.001 * Double(1 << $0) } + [300]

    private let nodes: [String: Gauge]
    private let waiters: Gauge
    private let waits: [String: Counter]
    private let waitDurations: [WaitTarget: ValueHistogram]
    private let messages: Counter
    private let connects: Counter
    private let failures: [StreamFailure: Counter]
    private let listings: Gauge
    private let acks: Gauge

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), version: String = "dev") {
        self.registry = registry
        func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "settle", subsystem: "aggregator", metricName: name, unitName: unit, helpText: help)
        }
        let nodesName = descriptor("nodes", "", "Nodes by status: healthy (agent heard and ready), unknown (agent unreachable, silent or not ready), excluded (being deleted, NotReady past the grace period, no agent).")
        nodes = Dictionary(uniqueKeysWithValues: ["healthy", "unknown", "excluded"].map {
            ($0, registry.makeGauge(descriptor: nodesName, labels: [("status", $0)]))
        })
        waiters = registry.makeGauge(descriptor: descriptor("waiters", "", "Waits open now."))
        let waitsName = descriptor("waits", "total", "Waits answered, by what they waited for and how they ended (done, timeout, cancelled).")
        var waits: [String: Counter] = [:]
        for target in WaitTarget.allCases {
            for result in WaitResult.allCases {
                waits["\(target)/\(result)"] = registry.makeCounter(
                    descriptor: waitsName, labels: [("for", target.rawValue), ("result", result.rawValue)])
            }
        }
        self.waits = waits
        let durationName = descriptor("wait_duration", "seconds", "How long waits stayed open, by what they waited for.")
        waitDurations = Dictionary(uniqueKeysWithValues: WaitTarget.allCases.map {
            ($0, registry.makeValueHistogram(descriptor: durationName, labels: [("for", $0.rawValue)], buckets: Self.waitBuckets))
        })
        messages = registry.makeCounter(descriptor: descriptor("stream_messages", "total", "Messages received on agents' ack streams."))
        connects = registry.makeCounter(descriptor: descriptor("stream_connects", "total", "Agent ack streams opened (first contact and reconnections)."))
        let failuresName = descriptor("stream_failures", "total", "Agent ack streams that ended, by reason.")
        failures = Dictionary(uniqueKeysWithValues: StreamFailure.allCases.map {
            ($0, registry.makeCounter(descriptor: failuresName, labels: [("reason", $0.rawValue)]))
        })
        listings = registry.makeGauge(descriptor: descriptor("endpoint_listings", "", "Endpoint records held from EndpointSlices (one per IP and slice, removed ones until forgotten)."))
        acks = registry.makeGauge(descriptor: descriptor("acks", "", "Acks held from all agents (endpoints in transition, summed over nodes)."))
        let info = registry.makeGauge(
            descriptor: descriptor("build", "info", "Always 1; labels name the aggregator's version."), labels: [("version", version)])
        info.set(Double(1))
    }

    public func setNodes(_ exclusions: [NodeVerdict.Reason?]) {
        var counts = ["healthy": 0, "unknown": 0, "excluded": 0]
        for reason in exclusions {
            switch reason?.group {
            case nil: counts["healthy", default: 0] += 1
            case .unknown: counts["unknown", default: 0] += 1
            default: counts["excluded", default: 0] += 1
            }
        }
        for (status, gauge) in nodes { gauge.set(Double(counts[status] ?? 0)) }
    }

    public func setWaiters(_ count: Int) { waiters.set(Double(count)) }

    public func recordWait(target: WaitTarget, result: WaitResult, seconds: Double) {
        waits["\(target)/\(result)"]?.increment()
        waitDurations[target]?.record(seconds)
    }

    public func recordMessages(_ count: Int) { messages.increment(by: Int64(count)) }
    public func recordConnect() { connects.increment() }
    public func recordStreamFailure(_ reason: StreamFailure) { failures[reason]?.increment() }
    public func setListings(_ count: Int) { listings.set(Double(count)) }
    public func setAcks(_ count: Int) { acks.set(Double(count)) }

    /// The text exposition `/metrics` serves.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}
