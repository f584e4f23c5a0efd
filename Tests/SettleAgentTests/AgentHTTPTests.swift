import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOHTTP1
import SettleAgent
import SettleConvergence
import ServiceLifecycle
import Testing

/// A stand-in for the agent actor: readiness and state set by the test.
final class FakeStateProvider: AgentStateProvider, @unchecked Sendable {
    private let lock = NSLock()
    private var currentReadiness = AgentReadiness.notReady("dataplane not read yet")

    func setReadiness(_ readiness: AgentReadiness) { lock.withLock { currentReadiness = readiness } }

    func readiness() async -> AgentReadiness { lock.withLock { currentReadiness } }

    func state() async -> AgentStateDocument {
        let readiness = await readiness()
        return AgentStateDocument(
            node: "node-a", mode: "nftables", ready: readiness.ready, reason: readiness.reason, watch: "42",
            endpoints: ["programmed": 3, "stale": 1], inTransition: 1, notConverged: [AckFixtures.ack(1)])
    }
}

/// One running agent HTTP server on a loopback port, with its hub, metrics and provider.
struct AgentServerHarness {
    let server: AgentHTTPServer
    let hub: AckHub
    let metrics: AgentMetrics
    let provider: FakeStateProvider
    let port: Int
    let http: HTTPClient

    var base: String { "http://127.0.0.1:\(port)" }

    /// One request, body collected.
    func get(_ path: String, method: HTTPMethod = .GET) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 8 << 20)
        return (Int(response.status.code), response.headers, String(buffer: body))
    }

    /// Opens `/v1/acks` with `query` and reads messages until `done` says stop; returns them.
    func stream(
        _ query: String = "", until done: @escaping @Sendable ([AckMessage]) -> Bool
    ) async throws -> (status: Int, messages: [AckMessage]) {
        let request = HTTPClientRequest(url: base + "/v1/acks" + query)
        let response = try await http.execute(request, timeout: .seconds(60))
        guard response.status == .ok else { return (Int(response.status.code), []) }
        var decoder = AckStreamDecoder()
        var messages: [AckMessage] = []
        for try await chunk in response.body {
            messages += try decoder.feed(chunk.readableBytesView)
            if done(messages) { break }
        }
        return (200, messages)
    }
}

/// Runs an agent HTTP server on port 0 for `body`, then shuts it down (gracefully, like the agent does).
func withAgentServer<R: Sendable>(
    maxStreamClients: Int = 8, heartbeatInterval: Duration = .seconds(3600), capacity: Int = 4096,
    streamWriteTimeout: Duration = .seconds(30),
    _ body: @Sendable (AgentServerHarness) async throws -> R
) async throws -> R {
    let hub = AckHub(node: "node-a", epoch: "e1", capacity: capacity)
    let metrics = AgentMetrics(version: "test")
    let provider = FakeStateProvider()
    var logger = Logger(label: "test.agent.http")
    logger.logLevel = .warning
    let server = AgentHTTPServer(
        configuration: .init(
            host: "127.0.0.1", port: 0, maxStreamClients: maxStreamClients, heartbeatInterval: heartbeatInterval,
            streamWriteTimeout: streamWriteTimeout),
        provider: provider, hub: hub, metrics: metrics, logger: logger)
    let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
    let running = Task { try await group.run() }
    let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
    func stop() async {
        try? await http.shutdown()
        await group.triggerGracefulShutdown()
        _ = await running.result
    }
    do {
        let port = try await server.waitForPort()
        let result = try await body(
            AgentServerHarness(server: server, hub: hub, metrics: metrics, provider: provider, port: port, http: http))
        await stop()
        return result
    } catch {
        await stop()
        throw error
    }
}

@Suite struct AgentHTTPTests {
    @Test("healthz is ok; readyz is 503 with a JSON reason until the agent is ready, then 200")
    func probes() async throws {
        try await withAgentServer { agent in
            let health = try await agent.get("/healthz")
            #expect(health.status == 200)
            #expect(health.body == "ok\n")
            let notReady = try await agent.get("/readyz")
            #expect(notReady.status == 503)
            let reason = try JSONDecoder().decode(AgentReadiness.self, from: Data(notReady.body.utf8))
            #expect(reason == .notReady("dataplane not read yet"))
            agent.provider.setReadiness(.ready)
            #expect(try await agent.get("/readyz").status == 200)
        }
    }

    @Test("state is JSON with the provider's document and the ack stream's epoch and sequence")
    func state() async throws {
        try await withAgentServer { agent in
            agent.hub.record(changed: [AckFixtures.ack(1)], expired: [])
            let response = try await agent.get("/v1/state")
            #expect(response.status == 200)
            #expect(response.headers.first(name: "content-type") == "application/json")
            let document = try AckWire.decoder.decode(AgentStateDocument.self, from: Data(response.body.utf8))
            #expect(document.node == "node-a")
            #expect(document.notConverged == [AckFixtures.ack(1)])
            #expect(document.ackStream == .init(epoch: "e1", seq: 1, clients: 0))
        }
    }

    @Test("a first reader gets a snapshot, then live deltas as the agent records them")
    func snapshotThenLive() async throws {
        try await withAgentServer { agent in
            agent.hub.record(changed: [AckFixtures.ack(1)], expired: [])
            let hub = agent.hub
            let reader = Task { try await agent.stream(until: { $0.last?.sequence == 3 }) }
            // Records once the reader waits, so it sees them as live deltas.
            while hub.waitingReaders < 1 { try await Task.sleep(for: .milliseconds(5)) }
            hub.record(changed: [AckFixtures.ack(2)], expired: [])
            hub.record(changed: [], expired: [AckFixtures.key(1)])
            let (status, messages) = try await reader.value
            #expect(status == 200)
            guard case .snapshot(let snapshot) = messages.first else {
                Issue.record("first message is not a snapshot: \(messages)")
                return
            }
            #expect(snapshot == AckSnapshot(node: "node-a", epoch: "e1", seq: 1, ready: false, watch: nil, acks: [AckFixtures.ack(1)]))
            #expect(messages.dropFirst().map(\.kind) == [.delta, .delta])
            #expect(messages.last == .delta(AckDelta(seq: 3, acks: [], expired: [AckFixtures.key(1)])))
        }
    }

    @Test("resuming from a held sequence sends the missed deltas and a heartbeat; an old sequence or another epoch gets a snapshot")
    func resume() async throws {
        try await withAgentServer(capacity: 4) { agent in
            for n in 1...10 { agent.hub.record(changed: [AckFixtures.ack(n)], expired: []) }
            let resumed = try await agent.stream("?since=8&epoch=e1", until: { $0.last?.kind == .heartbeat })
            #expect(resumed.messages.map(\.kind) == [.delta, .delta, .heartbeat])
            #expect(resumed.messages.map(\.sequence) == [9, 10, 10])
            let old = try await agent.stream("?since=2&epoch=e1", until: { !$0.isEmpty })
            #expect(old.messages.first?.kind == .snapshot)
            #expect(old.messages.first?.sequence == 10)
            let restarted = try await agent.stream("?since=9&epoch=e0", until: { !$0.isEmpty })
            #expect(restarted.messages.first?.kind == .snapshot)
        }
    }

    @Test("an idle stream sends heartbeats carrying epoch, sequence, readiness and the watch's resourceVersion")
    func heartbeats() async throws {
        try await withAgentServer(heartbeatInterval: .milliseconds(50)) { agent in
            agent.hub.setReady(true)
            agent.hub.setWatch("777")
            let result = try await agent.stream("?since=0&epoch=e1", until: { $0.count >= 3 })
            #expect(result.messages.map(\.kind) == [.heartbeat, .heartbeat, .heartbeat])
            guard case .heartbeat(let heartbeat) = result.messages.last else { return }
            #expect(heartbeat.epoch == "e1")
            #expect(heartbeat.seq == 0)
            #expect(heartbeat.ready)
            #expect(heartbeat.watch == "777")
        }
    }

    @Test("past the stream cap a new reader gets 429; a closed stream frees its place")
    func clientCap() async throws {
        try await withAgentServer(maxStreamClients: 2) { agent in
            let hub = agent.hub
            let first = Task { try await agent.stream(until: { $0.last?.sequence == 1 }) }
            let second = Task { try await agent.stream(until: { $0.last?.sequence == 1 }) }
            while hub.waitingReaders < 2 { try await Task.sleep(for: .milliseconds(5)) }
            let refused = try await agent.get("/v1/acks")
            #expect(refused.status == 429)
            #expect(refused.body.contains("\"status\":429"))
            #expect(refused.headers.first(name: "retry-after") == "1")
            hub.record(changed: [AckFixtures.ack(1)], expired: [])
            _ = try await first.value
            _ = try await second.value
            // Each reader hung up; the server notices on its next write and frees the place.
            var admitted = false
            for _ in 0..<200 where !admitted {
                hub.record(changed: [AckFixtures.ack(2)], expired: [])
                let third = try await agent.stream(until: { !$0.isEmpty })
                admitted = third.status == 200
                if !admitted { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(admitted)
        }
    }

    #if canImport(Glibc)
    @Test("a reader that stops reading is disconnected once a write stays blocked past the write timeout, freeing its place")
    func stalledReader() async throws {
        try await withAgentServer(maxStreamClients: 1, streamWriteTimeout: .milliseconds(200)) { agent in
            // A raw socket with a tiny receive buffer that sends the request and never reads.
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #expect(fd >= 0)
            defer { close(fd) }
            var small: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(agent.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(connected == 0)
            let request = Array("GET /v1/acks HTTP/1.1\r\nHost: agent\r\n\r\n".utf8)
            #expect(send(fd, request, request.count, 0) == request.count)
            let hub = agent.hub
            while hub.waitingReaders < 1 { try await Task.sleep(for: .milliseconds(5)) }
            #expect(try await agent.get("/v1/acks").status == 429)
            // Deltas of 1,000 acks each until the kernel's buffers are full and the place is freed.
            var admitted = false
            var round = 0
            while !admitted, round < 500 {
                round += 1
                hub.record(changed: (1...1000).map { AckFixtures.ack($0 % 250, generation: Int64(round * 1000 + $0)) }, expired: [])
                let state = try await agent.get("/v1/state")
                let document = try AckWire.decoder.decode(AgentStateDocument.self, from: Data(state.body.utf8))
                admitted = document.ackStream?.clients == 0
                if !admitted { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(admitted)
            let next = try await agent.stream(until: { !$0.isEmpty })
            #expect(next.status == 200)
        }
    }
    #endif

    @Test("the API is read-only: POST, PUT and DELETE get 405 with Allow: GET; unknown paths 404")
    func methods() async throws {
        try await withAgentServer { agent in
            for method in [HTTPMethod.POST, .PUT, .DELETE, .PATCH] {
                let response = try await agent.get("/v1/acks", method: method)
                #expect(response.status == 405)
                #expect(response.headers.first(name: "allow") == "GET")
            }
            #expect(try await agent.get("/v1/nope").status == 404)
        }
    }

    @Test("a since that is not a sequence number is a 400 with a JSON error; an oversized query a 414")
    func badQueries() async throws {
        try await withAgentServer { agent in
            for since in ["abc", "-1", "1.5", "99999999999999999999999"] {
                let response = try await agent.get("/v1/acks?since=\(since)")
                #expect(response.status == 400)
                let error = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
                #expect((error?["error"] as? String)?.contains("since") == true)
            }
            let long = try await agent.get("/v1/acks?since=1&pad=" + String(repeating: "x", count: 2000))
            #expect(long.status == 414)
        }
    }

    @Test("metrics are Prometheus text with the agent's series")
    func metrics() async throws {
        try await withAgentServer { agent in
            agent.metrics.setStates([.stale: 2])
            let response = try await agent.get("/metrics")
            #expect(response.status == 200)
            #expect(response.headers.first(name: "content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(response.body.contains("settle_agent_endpoints{state=\"stale\"} 2.0"))
            #expect(response.body.contains("settle_agent_build_info{version=\"test\"} 1.0"))
        }
    }

    @Test("a graceful shutdown ends open ack streams instead of waiting for their readers")
    func shutdownEndsStreams() async throws {
        let hub = AckHub(node: "node-a", epoch: "e1")
        let server = AgentHTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0, heartbeatInterval: .seconds(3600)),
            provider: FakeStateProvider(), hub: hub, metrics: AgentMetrics())
        var logger = Logger(label: "test.agent.http")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        let running = Task { try await group.run() }
        let port = try await server.waitForPort()
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        defer { _ = http.shutdown() }
        let response = try await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/acks"), timeout: .seconds(60))
        #expect(response.status == .ok)
        while hub.waitingReaders < 1 { try await Task.sleep(for: .milliseconds(5)) }
        await group.triggerGracefulShutdown()
        // The body ends (the loop below finishes) because the server closed the stream.
        var bytes = 0
        for try await chunk in response.body { bytes += chunk.readableBytes }
        #expect(bytes > 0)
        try await running.value
    }
}
