import Foundation
import SettleAgent
import SettleConvergence
import SettleKubeProxyRules
import SettleModel
import SettleSelection
import SettleTestSupport
import Testing

/// The agent end to end: a stand-in API server, kube-proxy's real nftables rules in a scratch
/// namespace changed by partial syncs, the agent following them, and its `/v1/acks` stream read
/// over HTTP as the aggregator will read it. Needs root.
@Suite(.enabled(if: ScratchNamespace.isRoot, "needs root for network namespaces"), .serialized)
struct AgentKernelTests {
    typealias E = WebCluster.Endpoint

    /// Brief §2 through the whole agent: the preStop flow, a watch that lags behind the rules, the
    /// relabel flow (tombstone), the last serving endpoint, and the table deleted and recreated.
    @Test("preStop, lagging watch, tombstone, fallback and a recreated table, through the ack stream")
    func lifecycle() async throws {
        let initial = [E(ip: "10.1.0.1"), E(ip: "10.1.0.2"), E(ip: "10.1.0.3")]
        try await AgentHarness.with(initial) { h in
            let acks = AckStreamClient()
            await acks.start(url: "http://127.0.0.1:\(h.httpPort)/v1/acks", client: h.http)
            try await eventually("the first snapshot") { await acks.received[.snapshot] == 1 }
            let (ready, current) = (await acks.ready, await acks.acks)
            #expect(ready && current.isEmpty)
            #expect(try await h.get("/readyz").status == 200)

            // 1. preStop: 10.1.0.3 terminates. Stale while kube-proxy still routes it, drained after.
            try await h.setSlice([E(ip: "10.1.0.1"), E(ip: "10.1.0.2"), E(ip: "10.1.0.3", ready: false, serving: false, terminating: true)])
            let generation2 = try await h.sliceGeneration()
            let stale = try await acks.wait(for: WebCluster.key("10.1.0.3")) { $0.state == .stale }
            #expect(stale.change == .removed && stale.reason == .terminating && stale.slice?.generation == generation2)
            #expect(stale.targetRef == "shop/pod-10.1.0.3")
            try h.program(["10.1.0.1", "10.1.0.2"])
            let drained = try await acks.wait(for: WebCluster.key("10.1.0.3")) { $0.state == .drained }
            #expect(drained.slice?.generation == generation2 && drained.convergedAt != nil)

            // 2. A watch that lags: kube-proxy drops 10.1.0.2 before this agent has seen why. The
            // agent says `missing` (still desired by what it has seen, at the old generation), never
            // `drained`.
            try h.program(["10.1.0.1"])
            let missing = try await acks.wait(for: WebCluster.key("10.1.0.2")) { $0.state == .missing }
            #expect(missing.slice?.generation == generation2)
            // 3. The slice catches up by dropping the endpoint altogether (the relabel flow): a
            // drained tombstone naming the generation that removed it.
            try await h.setSlice([E(ip: "10.1.0.1"), E(ip: "10.1.0.3", ready: false, serving: false, terminating: true)])
            let generation3 = try await h.sliceGeneration()
            let tombstone = try await acks.wait(for: WebCluster.key("10.1.0.2")) { $0.state == .drained }
            #expect(tombstone.change == .tombstone && tombstone.slice?.generation == generation3)
            #expect(tombstone.targetRef == "shop/pod-10.1.0.2")
            let early = await acks.history.filter { $0.key == WebCluster.key("10.1.0.2") && $0.state == .drained && ($0.slice?.generation ?? 0) < generation3 }
            #expect(early.isEmpty, "drained acknowledged before the agent saw the change: \(early)")

            // 4. The last serving endpoint terminates: kube-proxy keeps it (fallback).
            try await h.setSlice([E(ip: "10.1.0.1", ready: false, serving: true, terminating: true)])
            let fallback = try await acks.wait(for: WebCluster.key("10.1.0.1")) { $0.fallback }
            #expect(fallback.state == .programmed && fallback.change == .fallback)

            // 5. The table is deleted, then recreated by a full sync.
            try h.ns.nft("delete table ip kube-proxy\n")
            _ = try await acks.wait(for: WebCluster.key("10.1.0.1")) { $0.state == .missing }
            try h.ns.nft(h.writer.transaction(for: WebCluster.proxyPorts(["10.1.0.1"])))
            _ = try await acks.wait(for: WebCluster.key("10.1.0.1")) { $0.state == .programmed && $0.fallback }

            // Throughout, the agent's whole state equals a one-shot evaluation of the same inputs.
            try await h.expectReportMatchesFreshRead()
            let state = try await h.get("/v1/state")
            #expect(state.status == 200 && state.body.contains("\"node\""))
            await acks.stop()
        }
    }

    /// `/v1/state` lists what is not converged, `/readyz` says ready, `/metrics` counts states.
    @Test("state, readiness and metrics reflect a stale endpoint")
    func stateAndMetrics() async throws {
        try await AgentHarness.with([E(ip: "10.1.0.1"), E(ip: "10.1.0.2")]) { h in
            try await h.setSlice([E(ip: "10.1.0.1"), E(ip: "10.1.0.2", ready: false, serving: false, terminating: true)])
            try await eventually("a stale endpoint") { await h.runtime.agent.counts()[.stale] == 1 }
            let state = try await h.get("/v1/state")
            #expect(state.status == 200)
            #expect(state.body.contains("10.1.0.2"))
            let metrics = try await h.get("/metrics")
            #expect(metrics.body.contains("settle_agent_endpoints{state=\"stale\"} 1") || metrics.body.contains("state=\"stale\""))
        }
    }
}

extension AgentKernelTests {
    /// Events lost to a full receive buffer (ENOBUFS) must cost a full read, never a wrong answer.
    @Test("forced ENOBUFS: the agent re-reads everything and its answer is still exact")
    func overflow() async throws {
        try await AgentHarness.with([E(ip: "10.1.0.1"), E(ip: "10.1.0.2")], configure: { $0.receiveBufferBytes = 4096 }) { h in
            // Bulk loads far beyond 4 KB of events (400 services each, unknown to the API, so their
            // endpoints are stale) until the kernel drops events for the agent's socket; whether one
            // load is enough depends on how fast the agent's thread drains it.
            func overflowed() async throws -> Bool {
                let metrics = try await h.get("/metrics").body
                return metrics.split(separator: "\n").contains {
                    $0.hasPrefix("settle_agent_dataplane_resyncs_total{reason=\"overflow\"} ") && !$0.hasSuffix(" 0")
                }
            }
            var round = 0
            while try await !overflowed(), round < 10 {
                let bulk = (0..<400).map { i in
                    ProxyServicePort(
                        name: ServicePortName(namespace: "bulk", name: "svc-\(round)-\(i)", port: "http"),
                        clusterIPs: [IPAddress.v4(0xAC1F_0000 | UInt32(round * 400 + i + 1))], port: 80,
                        clusterEndpoints: [EndpointAddress(ip: .v4(0x0A02_0000 | UInt32(round * 400 + i + 1)), port: 8080)])
                }
                try h.ns.nft(h.writer.partialSync(from: [], to: bulk).update)
                round += 1
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(try await overflowed(), "no overflow after \(round) bulk loads")
            try await h.setSlice([E(ip: "10.1.0.1"), E(ip: "10.1.0.2", ready: false, serving: false, terminating: true)])
            try h.program(["10.1.0.1"])
            try await h.expectReportMatchesFreshRead()
            let counts = await h.runtime.agent.counts()
            #expect(counts[.stale] == 400 * round && counts[.drained] == 1 && counts[.programmed] == 1)
        }
    }
}

extension AgentKernelTests {
    /// iptables has no change events: the agent polls it, diffs the reads, and acknowledges the
    /// same preStop flow.
    @Test("iptables (polled): stale while the rules lag, drained after they change")
    func iptablesPolling() async throws {
        try await AgentHarness.with([E(ip: "10.1.0.1"), E(ip: "10.1.0.2")], dataplane: .iptables) { h in
            #expect(await h.runtime.agent.mode == .iptables)
            let acks = AckStreamClient()
            await acks.start(url: "http://127.0.0.1:\(h.httpPort)/v1/acks", client: h.http)
            try await h.setSlice([E(ip: "10.1.0.1"), E(ip: "10.1.0.2", ready: false, serving: false, terminating: true)])
            let generation = try await h.sliceGeneration()
            let stale = try await acks.wait(for: WebCluster.key("10.1.0.2")) { $0.state == .stale }
            #expect(stale.slice?.generation == generation)
            try h.program(["10.1.0.1"])
            let drained = try await acks.wait(for: WebCluster.key("10.1.0.2")) { $0.state == .drained }
            #expect(drained.slice?.generation == generation)
            try await h.expectReportMatchesFreshRead()
            let metrics = try await h.get("/metrics").body
            #expect(metrics.contains("settle_agent_dataplane_resyncs_total{reason=\"poll\"}"))
            await acks.stop()
        }
    }
}
