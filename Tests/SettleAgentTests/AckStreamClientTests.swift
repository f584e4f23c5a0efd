import AsyncHTTPClient
import SettleAgent
import Testing

/// `AckStreamClient`, the reader benchmarks and the aggregator build on.
struct AckStreamClientTests {
    /// A wait that starts after its ack arrived must report when it arrived, not when it asked:
    /// `settle bench agent` once measured the `nft` process's exit instead of the ack this way.
    @Test("an ack that arrived before the wait reports its arrival time")
    func arrivalBeforeWait() async throws {
        try await withAgentServer { agent in
            let client = AckStreamClient()
            await client.start(url: "http://127.0.0.1:\(agent.port)/v1/acks", client: HTTPClient.shared)
            while agent.hub.waitingReaders < 1 { try await Task.sleep(for: .milliseconds(5)) }
            agent.hub.record(changed: [AckFixtures.ack(1)], expired: [])
            let live = try await client.wait(for: AckFixtures.ack(1).key, timeout: .seconds(10)) { _ in true }
            try await Task.sleep(for: .milliseconds(300))
            let late = try await client.wait(for: AckFixtures.ack(1).key, timeout: .seconds(10)) { _ in true }
            #expect(late.arrived == live.arrived)
            #expect(ContinuousClock.now - late.arrived >= .milliseconds(300))
            await client.stop()
        }
    }

    /// A wait for a state that never comes ends at its deadline with the last ack seen.
    @Test("a wait ends at its deadline and names the last ack")
    func deadline() async throws {
        try await withAgentServer { agent in
            let client = AckStreamClient()
            await client.start(url: "http://127.0.0.1:\(agent.port)/v1/acks", client: HTTPClient.shared)
            agent.hub.record(changed: [AckFixtures.ack(1)], expired: [])
            await #expect(throws: AckStreamClientError.self) {
                _ = try await client.wait(for: AckFixtures.ack(1).key, timeout: .milliseconds(200)) { _ in false }
            }
            await client.stop()
        }
    }
}
