import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SettleAcks
import SettleAggregation
import Testing

/// `settle drain-sidecar` as a pod runs it: the app's httpGet preStop hook calls
/// `/wait-for-drain`, and the sidecar outlives its own SIGTERM until that wait is over.
@Suite(.serialized)
struct DrainSidecarCommandTests {
    /// Starts the sidecar for 10.244.1.7 on a free port; returns it once it listens.
    static func start(aggregator: String, _ flags: [String] = []) async throws -> (SettleProcess, Int) {
        let process = try SettleProcess(
            ["drain-sidecar", "--listen", "127.0.0.1:0", "--pod-ip", "10.244.1.7", "--aggregator", aggregator] + flags)
        let line = try await process.waitForLine(containing: "\"drain sidecar listening\"")
        let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        let port = try #require(entry?["port"].flatMap { Int($0) }, "\(line)")
        return (process, port)
    }

    struct Reply {
        var status: Int
        var body: Data
    }

    static func get(_ port: Int, _ path: String) async throws -> Reply {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Reply(status: Int(response.status.code), body: Data(body.readableBytesView))
    }

    /// Polls `condition` until it holds; throws after 30 s instead of hanging.
    static func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("/wait-for-drain blocks until the aggregator says drained, then answers 200 with its answer; /healthz answers")
    func blocksUntilDrained() async throws {
        let doneAt = ContinuousClock.now + .seconds(2)
        let server = try await ScriptedAggregator.start(Answers.becomesDone(at: doneAt))
        defer { Task { await server.stop() } }
        let (sidecar, port) = try await Self.start(aggregator: server.url)
        let health = try await Self.get(port, "/healthz")
        #expect(health.status == 200 && String(decoding: health.body, as: UTF8.self) == "ok\n")
        let reply = try await Self.get(port, "/wait-for-drain")
        #expect(reply.status == 200)
        let answer = try AckWire.decoder.decode(WaitAnswer.self, from: reply.body)
        #expect(answer.done && answer.summary == "drained on 3 of 3 nodes")
        #expect(ContinuousClock.now >= doneAt, "answered before the aggregator said drained")
        #expect(server.requests.allSatisfy { $0.path == "/v1/endpoints/10.244.1.7" && $0.query["for"] == "drained" })
        // Its wait answered drained: SIGTERM now ends it at once.
        sidecar.terminate()
        let result = try await sidecar.finish(timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("\"stopped\""), "\(result.stderr)")
    }

    @Test("--timeout passes first: 504 with the last answer (who is still pending)")
    func timeout() async throws {
        let server = try await ScriptedAggregator.start(Answers.becomesDone(after: .seconds(3600)))
        defer { Task { await server.stop() } }
        let (sidecar, port) = try await Self.start(aggregator: server.url, ["--timeout", "1500ms", "--drain-grace", "0s"])
        let reply = try await Self.get(port, "/wait-for-drain")
        #expect(reply.status == 504)
        let answer = try AckWire.decoder.decode(WaitAnswer.self, from: reply.body)
        #expect(!answer.done && answer.pending.map(\.node) == ["node-b"])
        sidecar.terminate()
        #expect(try await sidecar.finish().status == 0)
    }

    @Test("the aggregator cannot be reached by the deadline: 502 with a JSON error naming the cause")
    func unreachable() async throws {
        let closed = try WaitCommandTests.closedPort()
        let (sidecar, port) = try await Self.start(aggregator: "http://127.0.0.1:\(closed)", ["--timeout", "1s", "--drain-grace", "0s"])
        let reply = try await Self.get(port, "/wait-for-drain")
        #expect(reply.status == 502)
        let error = try AckWire.decoder.decode(APIError.self, from: reply.body)
        #expect(error.status == 502 && error.error.contains("connection refused"), "\(error)")
        sidecar.terminate()
        #expect(try await sidecar.finish().status == 0)
    }

    @Test("an IP no Service lists (404) is drained: 200, done")
    func notAnEndpoint() async throws {
        let server = try await ScriptedAggregator.start { _ in .error(404, "10.244.1.7 is not an endpoint of any Service") }
        defer { Task { await server.stop() } }
        let (sidecar, port) = try await Self.start(aggregator: server.url)
        let reply = try await Self.get(port, "/wait-for-drain")
        #expect(reply.status == 200)
        let answer = try AckWire.decoder.decode(WaitAnswer.self, from: reply.body)
        #expect(answer.done && answer.endpoint.ips == ["10.244.1.7"] && answer.summary.contains("nothing routes to it"))
        sidecar.terminate()
        #expect(try await sidecar.finish().status == 0)
    }

    /// The pod is deleted: the sidecar gets SIGTERM while the app's preStop wait is in flight.
    @Test("SIGTERM during a wait: keeps serving (new requests too) until the waits end, then exits 0")
    func sigtermDuringWait() async throws {
        let drained = Flag()
        let server = try await ScriptedAggregator.start(Answers.becomesDone(when: drained))
        defer { Task { await server.stop() } }
        let (sidecar, port) = try await Self.start(aggregator: server.url)
        let first = Task { try await Self.get(port, "/wait-for-drain") }
        try await Self.eventually("the first wait reaches the aggregator") { !server.requests.isEmpty }
        sidecar.terminate()
        try await Task.sleep(for: .milliseconds(500))
        #expect(sidecar.isRunning, "stopped with a wait in flight")
        // A second preStop request arriving after SIGTERM is still accepted and served.
        #expect(try await Self.get(port, "/healthz").status == 200)
        let second = Task { try await Self.get(port, "/wait-for-drain") }
        try await Self.eventually("both waits long-poll the aggregator") { server.open == 2 }
        #expect(sidecar.isRunning, "stopped with waits in flight")
        drained.set()
        #expect(try await second.value.status == 200)
        let reply = try await first.value
        #expect(reply.status == 200)
        #expect(try AckWire.decoder.decode(WaitAnswer.self, from: reply.body).done)
        let result = try await sidecar.finish(timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("shutting down: serving /wait-for-drain until the waits are over"), "\(result.stderr)")
    }

    /// A regular sidecar can get SIGTERM before the app's preStop request arrives.
    @Test("SIGTERM before any wait: a preStop request arriving within --drain-grace is served, then it exits 0")
    func sigtermBeforeWait() async throws {
        let server = try await ScriptedAggregator.start { _ in .answer(Answers.wait(done: true)) }
        defer { Task { await server.stop() } }
        let (sidecar, port) = try await Self.start(aggregator: server.url, ["--drain-grace", "20s"])
        sidecar.terminate()
        try await Task.sleep(for: .milliseconds(500))
        #expect(sidecar.isRunning, "did not wait for the preStop request")
        let reply = try await Self.get(port, "/wait-for-drain")
        #expect(reply.status == 200)
        let result = try await sidecar.finish(timeout: .seconds(15))
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("SIGTERM and no preStop request ever: exits 0 once --drain-grace has passed")
    func sigtermNoWait() async throws {
        let server = try await ScriptedAggregator.start { _ in .answer(Answers.wait(done: true)) }
        defer { Task { await server.stop() } }
        let (sidecar, _) = try await Self.start(aggregator: server.url, ["--drain-grace", "1500ms"])
        let signalled = ContinuousClock.now
        sidecar.terminate()
        let result = try await sidecar.finish(timeout: .seconds(30))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(ContinuousClock.now - signalled >= .milliseconds(1400), "left before --drain-grace")
        #expect(server.requests.isEmpty)
    }

    @Test("the pod comes from POD_NAMESPACE/POD_NAME when there is no IP; none at all is an error (exit 2)")
    func podFromEnvironment() async throws {
        let server = try await ScriptedAggregator.start { _ in .answer(Answers.wait(pod: "shop/web-1", done: true)) }
        defer { Task { await server.stop() } }
        let sidecar = try SettleProcess(
            ["drain-sidecar", "--listen", "127.0.0.1:0", "--aggregator", server.url, "--drain-grace", "0s"],
            environment: ["POD_NAMESPACE": "shop", "POD_NAME": "web-1"])
        let line = try await sidecar.waitForLine(containing: "\"drain sidecar listening\"")
        let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        let port = try #require(entry?["port"].flatMap { Int($0) })
        #expect(try await Self.get(port, "/wait-for-drain").status == 200)
        #expect(server.requests.first?.path == "/v1/pods/shop/web-1")
        sidecar.terminate()
        #expect(try await sidecar.finish().status == 0)

        let none = try await SettleProcess.run(["drain-sidecar", "--listen", "127.0.0.1:0"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("error: no pod"), "\(none.stderr)")
    }

    @Test("--help explains the endpoints, SIGTERM handling and native sidecars")
    func help() async throws {
        let result = try await SettleProcess.run(["drain-sidecar", "--help"])
        #expect(result.status == 0)
        for text in ["/wait-for-drain", "504", "502", "SIGTERM", "--drain-grace", "restartPolicy: Always", "httpGet"] {
            #expect(result.stdout.contains(text), "\(text)")
        }
    }
}
