import Foundation
import SettleAcks
import SettleAggregation
import SettleConvergence
import SettleKube
import SettleModel
import Testing

/// The incremental re-evaluation (a message re-checks one node for the waits it can concern)
/// must always give what a one-shot evaluation of the whole state gives, and report a wait as
/// completed exactly once, at the input that made it done.
@Suite("Aggregation: incremental waits equal one-shot answers")
struct IncrementalWaitTests {
    typealias F = Fixture

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomInputs(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let nodes = ["a", "b", "c", "d"]
        let ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        let conditions: [EndpointIndex.Condition] = [.ready, .terminating, .notReady, .removed]
        var state = Aggregation(policy: seed.isMultiple(of: 2) ? .block : .ignore, silenceTimeout: 15, notReadyGrace: 300)
        var version = 10
        var generation: Int64 = 1
        var sequence: [String: UInt64] = [:]
        var now = F.t0
        for node in nodes {
            _ = state.setAgent("http://\(node):9467", node: node)
            _ = state.apply(F.snapshot(node: node, watch: version), from: node, at: now)
        }
        _ = state.sliceUpserted(F.slice(generation: generation, version: version, ips.map { ($0, .ready) }), now: now)
        var open: [Int: (ips: [IPAddress], target: WaitTarget, query: WaitQuery)] = [:]
        var done: Set<Int> = []

        for step in 0..<400 {
            var completed: [Int] = []
            switch Int.random(in: 0..<10, using: &random) {
            case 0, 1:
                // The slice changes some conditions.
                version += 1
                generation += 1
                let endpoints = ips.compactMap { ip -> (String, EndpointIndex.Condition)? in
                    let condition = conditions.randomElement(using: &random)!
                    return condition == .removed ? nil : (ip, condition)
                }
                completed = state.sliceUpserted(F.slice(generation: generation, version: version, endpoints), now: now)
            case 2, 3, 4:
                // A node acks one endpoint at some generation, watch somewhere up to the current version.
                let node = nodes.randomElement(using: &random)!
                let watch = Int.random(in: max(10, version - 2)...version, using: &random)
                let ack = F.ack(
                    ips.randomElement(using: &random)!, EndpointState.allCases.randomElement(using: &random)!,
                    generation: Int64.random(in: max(1, generation - 2)...generation, using: &random),
                    fallback: Bool.random(using: &random))
                sequence[node, default: 0] += 1
                let expired = Bool.random(using: &random) ? [F.key(ips.randomElement(using: &random)!)] : []
                completed = state.apply(
                    F.delta(seq: sequence[node]!, watch: watch, acks: Bool.random(using: &random) ? [ack] : [], expired: expired),
                    from: node, at: now)
            case 5:
                let node = nodes.randomElement(using: &random)!
                completed = Bool.random(using: &random)
                    ? state.disconnected(node: node, reason: "test")
                    : state.apply(F.snapshot(node: node, watch: version, ready: Int.random(in: 0..<4, using: &random) > 0), from: node, at: now)
            case 6:
                let node = nodes.randomElement(using: &random)!
                let object = V1Node(
                    metadata: ObjectMeta(name: node, deletionTimestamp: Int.random(in: 0..<5, using: &random) == 0 ? "x" : nil),
                    status: .init(conditions: [.init(type: "Ready", status: Bool.random(using: &random) ? "True" : "False")]))
                completed = state.setNodeObject(object, name: node, now: now)
            case 7:
                now = now.addingTimeInterval(Double.random(in: 0..<200, using: &random))
                completed = state.tick(now: now)
            default:
                // Open a wait.
                let chosen = [try #require(IPAddress(ips.randomElement(using: &random)!))]
                let target: WaitTarget = Bool.random(using: &random) ? .drained : .programmed
                let query = WaitQuery(ip: chosen[0].description)
                let id = state.openWait(query: query, ips: chosen, target: target, now: now)
                open[id] = (chosen, target, query)
                if state.isDone(id) { done.insert(id) }
            }
            for id in completed {
                #expect(!done.contains(id), "wait \(id) reported completed twice (step \(step))")
                done.insert(id)
            }
            for (id, wait) in open {
                let incremental = try #require(state.answer(id, now: now))
                let oneShot = state.evaluate(query: wait.query, ips: wait.ips, target: wait.target, started: now, now: now)
                #expect(incremental.done == oneShot.done, "wait \(id) at step \(step)")
                #expect(incremental.pending == oneShot.pending, "wait \(id) at step \(step)")
                #expect(incremental.unknown == oneShot.unknown, "wait \(id) at step \(step)")
                #expect(incremental.excluded == oneShot.excluded, "wait \(id) at step \(step)")
                #expect(incremental.nodes == oneShot.nodes, "wait \(id) at step \(step)")
                #expect(done.contains(id) == incremental.done || (done.contains(id) && !incremental.done), "wait \(id) at step \(step)")
                if !done.contains(id) { #expect(!incremental.done, "wait \(id) became done at step \(step) without being reported") }
            }
            // Answered waits close, as the aggregator does.
            for id in done where open[id] != nil {
                state.closeWait(id)
                open[id] = nil
            }
        }
        #expect(done.count >= 3, "the random walk should complete some waits (seed \(seed))")
    }
}
