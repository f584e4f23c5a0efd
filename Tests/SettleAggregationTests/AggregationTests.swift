import Foundation
import SettleAcks
import SettleAggregation
import SettleConvergence
import SettleKube
import SettleModel
import Testing

@Suite("Aggregation: wait verdicts")
struct AggregationTests {
    typealias F = Fixture
    let ip = Fixture.ip("10.0.0.5")

    /// The preStop flow over three nodes: one current, one whose watch lags (its ack is from the
    /// old generation: kube-proxy dropped the endpoint before the agent saw the change), one that
    /// never had the endpoint (no ack). Done exactly when the last needed message arrives.
    @Test func drainCountsOnlyFreshAcks() throws {
        var state = F.aggregation(nodes: ["a", "b", "c"], watch: 10)
        _ = state.sliceUpserted(F.slice(generation: 1, version: 10, [("10.0.0.5", .ready)]), now: F.t0)
        let id = state.openWait(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, now: F.t0)
        var answer = try #require(state.answer(id, now: F.t0))
        #expect(!answer.done)
        #expect(answer.pending.map(\.reason) == [.endpoint, .endpoint, .endpoint])
        #expect(answer.endpoint.state == "ready")

        // The pod starts terminating: generation 2 at resourceVersion 11.
        #expect(state.sliceUpserted(F.slice(generation: 2, version: 11, [("10.0.0.5", .terminating)]), now: F.t0).isEmpty)
        answer = try #require(state.answer(id, now: F.t0))
        #expect(answer.pending.map(\.reason) == [.behind, .behind, .behind])
        #expect(answer.endpoint.change?.generation == 2)

        #expect(state.apply(F.delta(seq: 1, watch: 11, acks: [F.ack("10.0.0.5", .stale, generation: 2)]), from: "a", at: F.t0).isEmpty)
        // b: drained, but computed from generation 1 at watch 10: not counted.
        #expect(state.apply(F.delta(seq: 1, watch: 10, acks: [F.ack("10.0.0.5", .drained, generation: 1)]), from: "b", at: F.t0).isEmpty)
        // c: saw the change, had nothing to say (the endpoint was never routed there).
        #expect(state.apply(F.delta(seq: 1, watch: 11), from: "c", at: F.t0).isEmpty)
        answer = try #require(state.answer(id, now: F.t0))
        #expect(answer.pending.map(\.node) == ["a", "b"])
        #expect(answer.pending.map(\.reason) == [.stale, .behind])
        #expect(answer.pending[0].state == "stale")
        #expect(answer.nodes.done == 1)

        #expect(state.apply(F.delta(seq: 2, watch: 11, acks: [F.ack("10.0.0.5", .drained, generation: 2)]), from: "a", at: F.t0).isEmpty)
        let completed = state.apply(F.delta(seq: 2, watch: 11, acks: [F.ack("10.0.0.5", .drained, generation: 2)]), from: "b", at: F.t0)
        #expect(completed == [id])
        answer = try #require(state.answer(id, now: F.t0))
        #expect(answer.done)
        #expect(answer.nodes == NodeCounts(total: 3, counted: 3, done: 3, pending: 0, unknown: 0, excluded: 0))
        #expect(answer.summary == "drained on 3 of 3 counted nodes")
    }

    /// A node whose watch passed the change counts its ack even when it names another slice (the
    /// endpoint moved between slices).
    @Test func watchPastTheChangeMakesAnyAckFresh() throws {
        var state = F.aggregation(nodes: ["a"], watch: 20)
        _ = state.sliceUpserted(F.slice(generation: 5, version: 21, [("10.0.0.5", .terminating)]), now: F.t0)
        let id = state.openWait(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, now: F.t0)
        #expect(!state.isDone(id))
        let completed = state.apply(F.delta(seq: 1, watch: 21, acks: [F.ack("10.0.0.5", .drained, generation: 1, uid: "other")]), from: "a", at: F.t0)
        #expect(completed == [id])
    }

    @Test func fallbackKeepsTheWaitPendingAndSaysSo() throws {
        var state = F.aggregation(nodes: ["a"], watch: 11)
        _ = state.sliceUpserted(F.slice(generation: 2, version: 11, [("10.0.0.5", .terminating)]), now: F.t0)
        _ = state.apply(F.delta(seq: 1, watch: 11, acks: [F.ack("10.0.0.5", .programmed, generation: 2, fallback: true)]), from: "a", at: F.t0)
        let answer = state.evaluate(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, started: F.t0, now: F.t0)
        #expect(!answer.done)
        let verdict = try #require(answer.pending.first)
        #expect(verdict.reason == .fallback)
        #expect(verdict.fallback)
        #expect(verdict.state == "programmed")
    }

    @Test func unknownNodesBlockOrAreIgnoredButAlwaysNamed() throws {
        for policy in UnknownNodePolicy.allCases {
            var state = F.aggregation(nodes: ["a", "b"], watch: 11, policy: policy)
            _ = state.sliceUpserted(F.slice(generation: 2, version: 11, [("10.0.0.5", .terminating)]), now: F.t0)
            let id = state.openWait(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, now: F.t0)
            #expect(state.isDone(id), "both nodes' watches passed the change and neither acks the endpoint")
            _ = state.disconnected(node: "b", reason: "connection refused")
            var answer = try #require(state.answer(id, now: F.t0))
            #expect(answer.done == (policy == .ignore))
            #expect(answer.unknown.map(\.node) == ["b"])
            #expect(answer.unknown.first?.reason == .disconnected)
            #expect(answer.unknown.first?.detail.contains("connection refused") == true)
            #expect(answer.nodes.counted == (policy == .block ? 2 : 1))
            // Back: a new snapshot.
            let completed = state.apply(F.snapshot(node: "b", watch: 11), from: "b", at: F.t0)
            #expect(completed == (policy == .block ? [id] : []))
            answer = try #require(state.answer(id, now: F.t0))
            #expect(answer.done && answer.unknown.isEmpty)
        }
    }

    @Test func silenceAndAgentReadinessMakeNodesUnknown() throws {
        var state = F.aggregation(nodes: ["a"], watch: 11)
        _ = state.sliceUpserted(F.slice(generation: 2, version: 11, [("10.0.0.5", .terminating)]), now: F.t0)
        let id = state.openWait(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, now: F.t0)
        #expect(state.isDone(id))
        #expect(state.tick(now: F.t0.addingTimeInterval(16)).isEmpty)
        #expect(state.answer(id, now: F.t0)?.unknown.first?.reason == .silent)
        let heartbeat = AckMessage.heartbeat(AckHeartbeat(epoch: "e1", seq: 0, time: F.t0, ready: false, watch: "11"))
        _ = state.apply(heartbeat, from: "a", at: F.t0.addingTimeInterval(17))
        #expect(state.answer(id, now: F.t0)?.unknown.first?.reason == .agentNotReady)
        let ready = AckMessage.heartbeat(AckHeartbeat(epoch: "e1", seq: 0, time: F.t0, ready: true, watch: "11"))
        #expect(state.apply(ready, from: "a", at: F.t0.addingTimeInterval(18)) == [id])
    }

    @Test func excludedNodesAreNamedAndDoNotCount() throws {
        var state = F.aggregation(nodes: ["a", "b", "c"], watch: 11)
        _ = state.sliceUpserted(F.slice(generation: 2, version: 11, [("10.0.0.5", .terminating)]), now: F.t0)
        _ = state.apply(F.delta(seq: 1, watch: 11, acks: [F.ack("10.0.0.5", .stale, generation: 2)]), from: "b", at: F.t0)
        _ = state.apply(F.delta(seq: 1, watch: 11, acks: [F.ack("10.0.0.5", .stale, generation: 2)]), from: "c", at: F.t0)
        let id = state.openWait(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, now: F.t0)
        // b is being deleted; c has been NotReady for ten minutes; d is a Node with no agent.
        var deleting = V1Node(metadata: ObjectMeta(name: "b", deletionTimestamp: "2026-11-27T10:00:00Z"))
        deleting.status = .init(conditions: [.init(type: "Ready", status: "True")])
        #expect(state.setNodeObject(deleting, name: "b", now: F.t0).isEmpty)
        let notReady = V1Node(
            metadata: ObjectMeta(name: "c"),
            status: .init(conditions: [.init(type: "Ready", status: "False", lastTransitionTime: "2027-01-15T07:50:00Z")]))
        let completed = state.setNodeObject(notReady, name: "c", now: F.t0)
        #expect(completed == [id])
        _ = state.setNodeObject(V1Node(metadata: ObjectMeta(name: "d")), name: "d", now: F.t0)
        let answer = try #require(state.answer(id, now: F.t0))
        #expect(answer.done)
        #expect(answer.excluded.map(\.node) == ["b", "c", "d"])
        #expect(answer.excluded.map(\.reason) == [.nodeDeleting, .nodeNotReady, .noAgent])
        #expect(answer.nodes == NodeCounts(total: 4, counted: 1, done: 1, pending: 0, unknown: 0, excluded: 3))
    }

    @Test func noCountedNodeIsNeverDone() {
        var state = Aggregation(policy: .ignore)
        _ = state.sliceUpserted(F.slice(generation: 2, version: 11, [("10.0.0.5", .terminating)]), now: F.t0)
        var answer = state.evaluate(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, started: F.t0, now: F.t0)
        #expect(!answer.done)
        #expect(answer.summary == "no node counts")
        _ = state.setAgent("http://a:9467", node: "a")
        answer = state.evaluate(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, started: F.t0, now: F.t0)
        #expect(!answer.done, "the only node is unknown (never connected), ignored, so nothing counts")
        #expect(answer.unknown.map(\.node) == ["a"])
    }

    @Test func arrivalWaitsForProgrammedEverywhere() throws {
        var state = F.aggregation(nodes: ["a", "b"], watch: 30)
        let id = state.openWait(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .programmed, now: F.t0)
        #expect(state.answer(id, now: F.t0)?.pending.first?.detail == "no EndpointSlice lists it any more")
        _ = state.sliceUpserted(F.slice(generation: 1, version: 31, [("10.0.0.5", .ready)]), now: F.t0)
        _ = state.apply(F.delta(seq: 1, watch: 31, acks: [F.ack("10.0.0.5", .missing, generation: 1)]), from: "a", at: F.t0)
        _ = state.apply(F.delta(seq: 1, watch: 31, acks: [F.ack("10.0.0.5", .programmed, generation: 1)]), from: "b", at: F.t0)
        #expect(state.answer(id, now: F.t0)?.pending.map(\.reason) == [.missing])
        #expect(state.apply(F.delta(seq: 2, watch: 31, acks: [F.ack("10.0.0.5", .programmed, generation: 1)]), from: "a", at: F.t0) == [id])
    }

    @Test func podsKeepTheirIPsAfterLeavingTheSliceUntilForgotten() {
        var index = EndpointIndex()
        index.upsert(F.slice(generation: 1, version: 5, [("10.0.0.5", .ready), ("10.0.0.6", .ready)], pods: ["10.0.0.5": "web-1"]), now: F.t0)
        #expect(index.ips(ofPod: "shop/web-1") == [F.ip("10.0.0.5")])
        let touched = index.upsert(F.slice(generation: 2, version: 6, [("10.0.0.6", .ready)]), now: F.t0.addingTimeInterval(5))
        #expect(touched == [F.ip("10.0.0.5")])
        let listing = index.listings(of: F.ip("10.0.0.5")).first
        #expect(listing?.condition == .removed)
        #expect(listing?.changedGeneration == 2)
        #expect(listing?.changedVersion == "6")
        #expect(index.ips(ofPod: "shop/web-1") == [F.ip("10.0.0.5")])
        #expect(index.count == 2)
        #expect(index.forget(removedBefore: F.t0.addingTimeInterval(1)) == 0)
        #expect(index.forget(removedBefore: F.t0.addingTimeInterval(10)) == 1)
        #expect(index.count == 1)
        #expect(index.ips(ofPod: "shop/web-1") == nil)
        #expect(index.listings(of: F.ip("10.0.0.6")).count == 1)
    }

    @Test func unchangedConditionsKeepTheirChangeGeneration() {
        var index = EndpointIndex()
        index.upsert(F.slice(generation: 1, version: 5, [("10.0.0.5", .terminating)]), now: F.t0)
        // Another endpoint of the slice changes: 10.0.0.5's change stays at generation 1.
        let touched = index.upsert(F.slice(generation: 2, version: 6, [("10.0.0.5", .terminating), ("10.0.0.7", .ready)]), now: F.t0)
        #expect(touched == [F.ip("10.0.0.7")])
        #expect(index.listings(of: F.ip("10.0.0.5")).first?.changedGeneration == 1)
        // A deleted slice removes its endpoints at the deletion's version.
        index.delete(F.slice(generation: 2, version: 9, []), now: F.t0)
        #expect(index.listings(of: F.ip("10.0.0.7")).first?.condition == .removed)
        #expect(index.listings(of: F.ip("10.0.0.7")).first?.changedVersion == "9")
    }

    @Test func serviceAnswerNamesLaggingNodes() throws {
        var state = F.aggregation(nodes: ["a", "b", "c"], watch: 11)
        _ = state.sliceUpserted(F.slice(generation: 2, version: 11, [("10.0.0.5", .terminating)]), now: F.t0)
        _ = state.apply(F.delta(seq: 1, watch: 11, acks: [F.ack("10.0.0.5", .stale, generation: 2)]), from: "a", at: F.t0)
        // c has not seen the change: it cannot be converged on it (this used to say `converged`).
        _ = state.apply(F.delta(seq: 1, watch: 10), from: "c", at: F.t0)
        let answer = try #require(state.serviceAnswer("shop/web", now: F.t0.addingTimeInterval(3)))
        #expect(!answer.converged)
        #expect(answer.nodes.map(\.status) == ["pending", "converged", "pending"])
        #expect(answer.nodes.map(\.reason) == [nil, nil, .behind])
        #expect(answer.nodes[0].states == ["stale": 1])
        #expect(answer.nodes[0].notConverged == ["shop/web:http/TCP 10.0.0.5:8080 stale (terminating)"])
        #expect(answer.nodes[0].lagSeconds == 3)
        #expect(answer.counts.pending == 2)
        // A Service nothing is known of has no answer (404), rather than a vacuous `converged`.
        #expect(state.serviceAnswer("shop/unknown", now: F.t0) == nil)
    }

    /// An agent being replaced (its pod gone or not running yet) leaves its node `unknown`, which
    /// blocks; only a node that never had an agent is excluded. Before, the gap excluded the node
    /// and a drain could be answered while that node was unheard.
    @Test func nodeWhoseAgentIsReplacedStaysUnknown() throws {
        var state = F.aggregation(nodes: ["a", "b"], watch: 11)
        _ = state.sliceUpserted(F.slice(generation: 2, version: 11, [("10.0.0.5", .terminating)]), now: F.t0)
        _ = state.apply(F.delta(seq: 1, watch: 11, acks: [F.ack("10.0.0.5", .stale, generation: 2)]), from: "b", at: F.t0)
        let id = state.openWait(query: WaitQuery(ip: "10.0.0.5"), ips: [ip], target: .drained, now: F.t0)
        #expect(state.setAgent(nil, node: "b").isEmpty, "b's agent pod went away: not done")
        var answer = try #require(state.answer(id, now: F.t0))
        #expect(answer.unknown.map(\.node) == ["b"])
        #expect(answer.unknown.first?.detail.contains("no running agent pod") == true)
        #expect(state.removeIfEmpty(node: "b").isEmpty)
        #expect(state.nodes["b"] != nil, "a node that had an agent is not dropped while it is replaced")
        // A node that never had an agent is excluded, and a deleted node leaves.
        _ = state.setAgent(nil, node: "c")
        answer = try #require(state.answer(id, now: F.t0))
        #expect(answer.excluded.map(\.node) == ["c"])
        let completed = state.setAgent("http://b2:9467", node: "b")
        #expect(completed.isEmpty, "the new agent has not spoken yet")
        #expect(state.apply(F.snapshot(node: "b", watch: 11), from: "b", at: F.t0) == [id])
    }
}
