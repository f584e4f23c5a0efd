public import Prometheus
public import SettleConvergence

/// The agent's Prometheus metrics (docs/metrics.md), registered in a registry of its own.
///
/// Each agent instance owns one ``registry`` and nothing touches the global `MetricsSystem`, so
/// several agents run in one test process without sharing counters. Code that prefers the
/// swift-metrics API can record into the same registry through ``factory`` (pass it as the
/// `factory:` of swift-metrics' `Counter`, `Gauge`, `Timer`…); the agent's own metrics are
/// created here with help texts, which the Prometheus exposition (and `promtool check metrics`) wants.
/// Every label value is from a closed set, so the series count is fixed.
public final class AgentMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry

    /// How a dataplane read was made: a full dump, or events applied to the previous state.
    public enum ReadKind: String, Sendable, CaseIterable {
        case full
        case incremental
    }

    /// Why the agent re-read the whole dataplane.
    public enum ResyncReason: String, Sendable, CaseIterable {
        /// The first read after start (or after the dataplane mode changed).
        case startup
        /// The periodic full resync.
        case periodic
        /// The netlink event socket overflowed (ENOBUFS): events were lost.
        case overflow
        /// An event could not be applied, or an incremental read failed.
        case error
        /// A poll of a dataplane without change events (iptables-legacy, IPVS).
        case poll
    }

    /// kube-proxy's `network_programming_duration_seconds` buckets, so the two histograms can be
    /// compared bucket for bucket: 0, 0.25 s, 0.5 s, 1–59 s by 1 s, 60–115 s by 5 s, 120–300 s by 30 s
    /// (kubernetes/kubernetes `pkg/proxy/metrics/metrics.go`, `NetworkProgrammingLatency`).
    public static let kubeProxyNetworkProgrammingBuckets: [Double] = {
        var buckets: [Double] = [0, 0.25, 0.5]
        buckets += (1...59).map(Double.init)
        buckets += stride(from: 60, through: 115, by: 5).map(Double.init)
        buckets += stride(from: 120, through: 300, by: 30).map(Double.init)
        return buckets
    }()

    /// Dataplane read durations: 0.5 ms to ~16 s, doubling (a 10,000-service ruleset reads in
    /// tens of milliseconds; an event batch in microseconds).
    public static let readDurationBuckets: [Double] = (0..<16).map { 0.0005 * Double(1 << $0) }

    private let endpoints: [EndpointState: Gauge]
    private let inTransition: Gauge
    private let transitions: [AckChange: Counter]
    private let reads: [ReadKind: Counter]
    private let readDurations: [ReadKind: ValueHistogram]
    private let overflows: Counter
    private let resyncs: [ResyncReason: Counter]
    private let watchRestarts: Counter
    private let streamClients: Gauge
    private let convergenceLatency: ValueHistogram
    private let ready: Gauge
    private let ackSequence: Gauge

    /// Registers every metric in `registry` (a fresh one by default) with all its label values,
    /// so each series exists from the start (at zero). `version` labels `settle_agent_build_info`.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), version: String = "dev") {
        self.registry = registry
        func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "settle", subsystem: "agent", metricName: name, unitName: unit, helpText: help)
        }
        let endpointsName = descriptor("endpoints", "", "Endpoints of this node's service ports by state (programmed, missing, stale, drained).")
        endpoints = Dictionary(uniqueKeysWithValues: EndpointState.allCases.map {
            ($0, registry.makeGauge(descriptor: endpointsName, labels: [("state", $0.rawValue)]))
        })
        inTransition = registry.makeGauge(
            descriptor: descriptor("endpoints_in_transition", "", "Endpoints in transition: changed or divergent, not yet expired from the ack journal."))
        let transitionsName = descriptor("transitions", "total", "Endpoint verdict changes seen, by change (added, removed, tombstone, fallback, divergent).")
        transitions = Dictionary(uniqueKeysWithValues: AckChange.allCases.map {
            ($0, registry.makeCounter(descriptor: transitionsName, labels: [("change", $0.rawValue)]))
        })
        let readsName = descriptor("dataplane_reads", "total", "Dataplane reads, by kind (full dump or incremental from events).")
        reads = Dictionary(uniqueKeysWithValues: ReadKind.allCases.map {
            ($0, registry.makeCounter(descriptor: readsName, labels: [("kind", $0.rawValue)]))
        })
        let readDurationName = descriptor("dataplane_read_duration", "seconds", "Duration of one dataplane read, by kind.")
        readDurations = Dictionary(uniqueKeysWithValues: ReadKind.allCases.map {
            ($0, registry.makeValueHistogram(descriptor: readDurationName, labels: [("kind", $0.rawValue)], buckets: Self.readDurationBuckets))
        })
        overflows = registry.makeCounter(
            descriptor: descriptor("dataplane_event_overflows", "total", "Netlink event socket overflows (ENOBUFS); each forces a full resync."))
        let resyncsName = descriptor("dataplane_resyncs", "total", "Full dataplane re-reads, by reason.")
        resyncs = Dictionary(uniqueKeysWithValues: ResyncReason.allCases.map {
            ($0, registry.makeCounter(descriptor: resyncsName, labels: [("reason", $0.rawValue)]))
        })
        watchRestarts = registry.makeCounter(
            descriptor: descriptor("watch_restarts", "total", "Restarts of the Services/EndpointSlices watch (broken stream, 410 Gone, errors)."))
        streamClients = registry.makeGauge(
            descriptor: descriptor("ack_stream_clients", "", "Open /v1/acks streams."))
        convergenceLatency = registry.makeValueHistogram(
            descriptor: descriptor(
                "convergence_latency", "seconds",
                "From an endpoint change seen by the agent to its dataplane converging on this node; buckets of kube-proxy's network_programming_duration_seconds."),
            buckets: Self.kubeProxyNetworkProgrammingBuckets)
        ready = registry.makeGauge(
            descriptor: descriptor("ready", "", "1 when the agent has read its dataplane and synced its watch, else 0."))
        ackSequence = registry.makeGauge(
            descriptor: descriptor("ack_sequence", "", "Sequence number of the latest ack journal delta."))
        let info = registry.makeGauge(
            descriptor: descriptor("build", "info", "Always 1; labels name the agent's version."),
            labels: [("version", version)])
        info.set(Double(1))
    }

    /// A swift-metrics factory recording into ``registry`` (never bootstrapped globally here).
    public var factory: PrometheusMetricsFactory { PrometheusMetricsFactory(registry: registry) }

    // MARK: Recording

    /// Sets the per-state endpoint counts; states absent from `counts` are set to 0.
    public func setStates(_ counts: [EndpointState: Int]) {
        for (state, gauge) in endpoints { gauge.set(Double(counts[state] ?? 0)) }
    }

    /// Sets the number of endpoints in transition.
    public func setInTransition(_ count: Int) { inTransition.set(Double(count)) }

    /// Counts verdict changes, one per element.
    public func recordTransitions(_ changes: some Sequence<AckChange>) {
        for change in changes { transitions[change]?.increment() }
    }

    /// Counts one dataplane read and its duration.
    public func recordRead(kind: ReadKind, duration: Duration) {
        reads[kind]?.increment()
        readDurations[kind]?.record(duration.seconds)
    }

    /// Counts one event socket overflow (ENOBUFS).
    public func recordEventOverflow() { overflows.increment() }

    /// Counts one full resync.
    public func recordResync(reason: ResyncReason) { resyncs[reason]?.increment() }

    /// Counts one restart of the Kubernetes watch.
    public func recordWatchRestart() { watchRestarts.increment() }

    /// Records how long one endpoint took to converge on this node.
    public func recordConvergence(latency: Duration) { convergenceLatency.record(max(0, latency.seconds)) }

    /// Sets readiness (1 or 0).
    public func setReady(_ isReady: Bool) { ready.set(Double(isReady ? 1 : 0)) }

    /// Sets the ack journal's latest sequence.
    public func setAckSequence(_ sequence: UInt64) { ackSequence.set(Double(sequence)) }

    /// Sets the number of open ack streams (the HTTP server does this).
    public func setStreamClients(_ count: Int) { streamClients.set(Double(count)) }

    /// The Prometheus text exposition (format 0.0.4) of ``registry``.
    public func exposition() -> [UInt8] { registry.emitToBuffer() }
}

extension Duration {
    /// Seconds as a floating-point number.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
