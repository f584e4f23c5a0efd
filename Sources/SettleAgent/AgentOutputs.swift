public import Foundation
public import SettleConvergence
import Synchronization

/// The production ``AgentSink``: acks into the ``AckHub`` (the `/v1/acks` stream), numbers into
/// ``AgentMetrics``.
public final class AgentOutputs: AgentSink {
    public let hub: AckHub
    public let metrics: AgentMetrics

    public init(hub: AckHub, metrics: AgentMetrics) {
        self.hub = hub
        self.metrics = metrics
    }


    public func started(acks: [TrackedEndpoint<ContinuousClock.Instant>], watchResourceVersion: String?, mode: String) {
        hub.setMode(mode)
        hub.setWatch(watchResourceVersion)
        hub.record(changed: acks, expired: [], wallTime: Ack.wallTime())
        hub.setReady(true)
        metrics.setReady(true)
        metrics.setAckSequence(hub.snapshot().seq)
    }

    public func acknowledged(_ update: TransitionTracker<ContinuousClock.Instant>.Update, watchResourceVersion: String?) {
        hub.setWatch(watchResourceVersion)
        if let delta = hub.record(changed: update.changed, expired: update.expired, wallTime: Ack.wallTime()) {
            metrics.setAckSequence(delta.seq)
        }
    }

    public func evaluated(
        counts: [EndpointState: Int], fallback: Int, inTransition: Int, changes: [TrackedEndpoint<ContinuousClock.Instant>.Change],
        latencies: [Double]
    ) {
        metrics.setStates(counts)
        metrics.setInTransition(inTransition)
        metrics.recordTransitions(changes)
        for latency in latencies { metrics.recordConvergence(latency: .seconds(latency)) }
    }

    public func dataplaneRead(kind: String, reason: String?, duration: Duration, warnings: [String]) {
        metrics.recordRead(kind: AgentMetrics.ReadKind(rawValue: kind) ?? .full, duration: duration)
        if let reason, let resync = AgentMetrics.ResyncReason(rawValue: reason) {
            metrics.recordResync(reason: resync)
            if resync == .overflow { metrics.recordEventOverflow() }
        }
    }

    public func watchProgress(watchResourceVersion: String?) {
        if let delta = hub.progress(watch: watchResourceVersion) { metrics.setAckSequence(delta.seq) }
    }

    public func heartbeat(watchResourceVersion: String?) {
        hub.setWatch(watchResourceVersion)
    }

    public func watchRestarts(_ count: Int) {
        for _ in 0..<max(0, count) { metrics.recordWatchRestart() }
    }
}
