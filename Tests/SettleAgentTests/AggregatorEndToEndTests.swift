import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SettleAPIServer
import SettleAcks
import SettleAgent
import SettleAggregation
import SettleAggregator
import SettleKube
import SettleKubeClient
import SettleTestSupport
import Testing

/// The whole chain on a real kernel: kube-proxy's rules change in a scratch namespace, the real
/// agent follows them through netlink events, the aggregator reads its ack stream over HTTP and
/// releases a waiting preStop question.
@Suite("Aggregator end to end with a real agent", .serialized)
struct AggregatorEndToEndTests {
    typealias E = WebCluster.Endpoint

    @Test func preStopWaitIsReleasedWhenTheKernelDropsTheEndpoint() async throws {
        try await AgentHarness.with([E(ip: "10.1.0.1"), E(ip: "10.1.0.2"), E(ip: "10.1.0.3", ready: false, serving: false)]) { h in
            try await h.withAggregator { port in try await Self.run(h, port: port) }
        }
    }

    static func run(_ h: AgentHarness, port: Int) async throws {
        do {
            func answer(_ path: String) async throws -> WaitAnswer {
                let response = try await h.http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(60))
                let body = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .ok else { throw TimedOut(what: "200 from \(path): \(String(buffer: body))") }
                return try AckWire.decoder.decode(WaitAnswer.self, from: Data(String(buffer: body).utf8))
            }
            try await eventually("the aggregator to hear the agent") {
                (try? await answer("/v1/endpoints/10.1.0.1"))?.pending.first?.reason == .endpoint
            }

            // preStop: the wait is open before the pod is even marked terminating.
            let waiter = Task { try await answer("/v1/endpoints/10.1.0.1?for=drained&wait=30s") }
            try await h.setSlice([E(ip: "10.1.0.1", ready: false, serving: true, terminating: true), E(ip: "10.1.0.2"), E(ip: "10.1.0.3", ready: false, serving: false)])
            let generation = try await h.sliceGeneration()
            try await eventually("the node to be stale for the terminating endpoint") {
                let now = try await answer("/v1/endpoints/10.1.0.1")
                return now.pending.first?.reason == .stale && now.endpoint.change?.generation == generation
            }
            try h.program(["10.1.0.2"])
            let released = try await waiter.value
            #expect(released.done)
            #expect(released.nodes.done == 1 && released.nodes.counted == 1)

            // The agent's journal says how fresh each delta is; a slice event that changes no ack
            // (a slice of a Service this node does not know) is a delta with no acks: progress,
            // which is what lets the aggregator count a node that has nothing to say.
            var journal = h.runtime.hub.journal
            var unrelated = WebCluster.slice([E(ip: "10.9.0.1")])
            unrelated.metadata.name = "other-1"
            unrelated.metadata.uid = "uid-other-1"
            unrelated.metadata.labels = [V1EndpointSlice.serviceNameLabel: "other"]
            let created = try await h.server.state.create(unrelated)
            try await eventually("a progress delta at the unrelated slice's version") {
                journal = h.runtime.hub.journal
                guard case .deltas(let deltas) = journal.messages(after: 0, epoch: journal.epoch) else { return false }
                return deltas.contains { $0.acks.isEmpty && $0.expired.isEmpty && $0.watch == created.metadata.resourceVersion }
            }

            let nodes = try AckWire.decoder.decode(
                NodesAnswer.self,
                from: Data(String(buffer: try await h.http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/nodes"), timeout: .seconds(10)).body.collect(upTo: 1 << 20)).utf8))
            #expect(nodes.nodes.map(\.node) == [WebCluster.node])
            #expect(nodes.nodes.first?.mode == "nftables")
            #expect(nodes.nodes.first?.status == "healthy")
        }
    }
}
