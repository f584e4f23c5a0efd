import Foundation
import SettleAggregation
import Synchronization
import Testing

/// `settle wait` run as a preStop hook runs it, against a scripted aggregator: the exit status
/// says done (0), timeout (1) or error (2), and stdout is one line saying which.
@Suite(.serialized)
struct WaitCommandTests {
    /// One line on stdout, nothing else.
    static func oneLine(_ result: SettleProcess.Result) -> String? {
        let lines = result.stdout.split(separator: "\n")
        return lines.count == 1 ? String(lines[0]) : nil
    }

    @Test("done at once: exit 0, one stdout line with the aggregator's summary; the request names the IP and the target")
    func doneAtOnce() async throws {
        let server = try await ScriptedAggregator.start { _ in .answer(Answers.wait(done: true)) }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", server.url, "--timeout", "20s"])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(Self.oneLine(result), "\(result.stdout)")
        #expect(line.hasPrefix("done: 10.244.1.7 drained after "), "\(line)")
        #expect(line.contains("drained on 3 of 3 nodes"), "\(line)")
        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/endpoints/10.244.1.7")
        #expect(request.query["for"] == "drained")
        #expect(request.wait != nil)
        #expect(server.requests.count == 1)
    }

    /// The aggregator holds each request until done or its `wait=`; the tool polls again until done.
    @Test("becomes done after a while: long-polls, reports progress on stderr, exits 0 no sooner than done")
    func longPoll() async throws {
        // Done only once the tool has asked at least twice (seen "not done", then long-polled): a
        // fixed instant could pass before a slow machine even starts the process.
        let done = Flag()
        let server = try await ScriptedAggregator.start(Answers.becomesDone(when: done))
        defer { Task { await server.stop() } }
        let process = try SettleProcess(["wait", "--ip", "10.244.1.7", "--aggregator", server.url, "--timeout", "30s"])
        let asked = ContinuousClock.now + .seconds(60)
        while server.requests.count < 2 && ContinuousClock.now < asked && process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(500))
        let doneAt = ContinuousClock.now
        done.set()
        let result = try await process.finish()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.oneLine(result)?.hasPrefix("done: 10.244.1.7 drained") == true, "\(result.stdout)")
        // Not a TTY: one progress line per change of the summary.
        let progress = result.stderr.split(separator: "\n").filter { $0.contains("waiting for 1 of 3 nodes: node-b stale") }
        #expect(progress.count == 1, "\(result.stderr)")
        #expect(ContinuousClock.now >= doneAt, "answered done before the aggregator was")
        let requests = server.requests
        #expect(requests.count >= 2 && requests.count <= 6, "\(requests.count) requests")
        // Each request long-polls, for at most the chunk size.
        for request in requests {
            let wait = try #require(request.wait)
            #expect(wait > .zero && wait <= .seconds(10), "\(wait)")
        }
    }

    @Test("--for programmed and --pod: the pod path and target are asked")
    func podProgrammed() async throws {
        let server = try await ScriptedAggregator.start { _ in .answer(Answers.wait(pod: "shop/web-1", for: .programmed, done: true)) }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--pod", "shop/web-1", "--for", "programmed", "--aggregator", server.url])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.oneLine(result)?.hasPrefix("done: pod shop/web-1 programmed") == true, "\(result.stdout)")
        #expect(server.requests.first?.path == "/v1/pods/shop/web-1")
        #expect(server.requests.first?.query["for"] == "programmed")
    }

    @Test("the deadline passes first: exit 1, one line saying timeout with who is pending")
    func timeout() async throws {
        let server = try await ScriptedAggregator.start(Answers.becomesDone(after: .seconds(3600)))
        defer { Task { await server.stop() } }
        // 6 s, not less: the scripted aggregator's first answer must come within the budget on a loaded machine.
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", server.url, "--timeout", "6s"])
        #expect(result.status == 1, "\(result.stderr)")
        let line = try #require(Self.oneLine(result), "\(result.stdout)")
        #expect(line.hasPrefix("timeout: 10.244.1.7 not drained after "), "\(line)")
        #expect(line.contains("node-b stale"), "\(line)")
        #expect(result.elapsed >= .milliseconds(5900))
    }

    @Test("404 while waiting for drained: nothing routes to it, exit 0 with a line saying so")
    func notAnEndpointDrained() async throws {
        let server = try await ScriptedAggregator.start { _ in .error(404, "10.244.9.9 is not an endpoint of any Service") }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.9.9", "--aggregator", server.url])
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(Self.oneLine(result), "\(result.stdout)")
        #expect(line.hasPrefix("done: 10.244.9.9 is not an endpoint"), "\(line)")
        #expect(line.contains("no node routes new connections to it"), "\(line)")
        #expect(server.requests.count == 1)
    }

    /// A wrong --aggregator URL must not pass for "drained".
    @Test("404 that is not the aggregator's unknown endpoint (another server's page, an unknown path): exit 2", arguments: [
        ScriptedAggregator.Reply.raw(404, "<html>404 Not Found</html>"), .error(404, "no such path: /api/v1/endpoints/10.244.1.7; see docs/api.md"),
    ])
    func foreignNotFound(_ reply: ScriptedAggregator.Reply) async throws {
        let server = try await ScriptedAggregator.start { _ in reply }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", server.url])
        #expect(result.status == 2, "\(result.stdout)")
        #expect(result.stderr.contains("is this a Settle aggregator's URL?"), "\(result.stderr)")
    }

    @Test("404 while waiting for programmed: the slice may come, so it is asked again until the deadline (exit 1)")
    func notAnEndpointProgrammed() async throws {
        let server = try await ScriptedAggregator.start { _ in .error(404, "unknown endpoint") }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.9.9", "--for", "programmed", "--aggregator", server.url, "--timeout", "2s"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(Self.oneLine(result)?.contains("no EndpointSlice lists 10.244.9.9 yet") == true, "\(result.stdout)")
        #expect(server.requests.count >= 3, "\(server.requests.count) requests")
    }

    @Test("404 for programmed, then the slice appears and is programmed: exit 0")
    func programmedAfterNotFound() async throws {
        let count = Counter()
        let later = try await ScriptedAggregator.start { _ in
            count.next() < 3 ? .error(404, "unknown endpoint") : .answer(Answers.wait(for: .programmed, done: true))
        }
        defer { Task { await later.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--for", "programmed", "--aggregator", later.url, "--timeout", "20s"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(later.requests.count == 4)
        #expect(result.stderr.contains("no EndpointSlice lists 10.244.1.7 yet"), "\(result.stderr)")
    }

    @Test("aggregator unreachable past the deadline: exit 2, one error line naming the aggregator and the cause")
    func unreachable() async throws {
        let port = try Self.closedPort()
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", "http://127.0.0.1:\(port)", "--timeout", "2s"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        let last = try #require(result.stderr.split(separator: "\n").last)
        #expect(last.hasPrefix("error: 10.244.1.7 drained: no answer from the aggregator before the deadline"), "\(last)")
        #expect(last.contains("http://127.0.0.1:\(port)") && last.contains("connection refused"), "\(last)")
        #expect(result.elapsed >= .milliseconds(1900) && result.elapsed < .seconds(15))
    }

    @Test("503 (not ready) and 429 with Retry-After are retried; the wait then ends done")
    func retriedThenReady() async throws {
        let count = Counter()
        let server = try await ScriptedAggregator.start { _ in
            switch count.next() {
            case 0, 1: .error(503, "aggregator not ready: syncing EndpointSlices")
            case 2: .error(429, "too many waiters", retryAfter: 1)
            case 3: .raw(502, "<html>bad gateway</html>")
            default: .answer(Answers.wait(done: true))
            }
        }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", server.url, "--timeout", "30s"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("retrying: aggregator at \(server.url): 503 aggregator not ready"), "\(result.stderr)")
        #expect(result.stderr.contains("429 too many waiters"), "\(result.stderr)")
        #expect(result.stderr.contains("502 <html>bad gateway</html>"), "\(result.stderr)")
        let requests = server.requests
        #expect(requests.count == 5)
        if requests.count == 5 {
            // Retry-After: 1 was honoured (generously: most of a second).
            #expect(requests[3].at - requests[2].at >= .milliseconds(800))
        }
    }

    @Test("400 (bad input) is permanent: exit 2 at once with the aggregator's sentence")
    func badInput() async throws {
        let server = try await ScriptedAggregator.start { _ in .error(400, "wait 10m is longer than --max-wait 5m") }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", server.url, "--timeout", "30s"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("400 wait 10m is longer than --max-wait 5m"), "\(result.stderr)")
        #expect(server.requests.count == 1)
        #expect(result.elapsed < .seconds(10))
    }

    @Test("an aggregator whose --max-wait is shorter than the poll (400): asked again in shorter steps, then done")
    func shortMaxWait() async throws {
        let longPoll = Answers.becomesDone(after: .seconds(4))
        let server = try await ScriptedAggregator.start { request in
            if let wait = request.wait, wait > .seconds(3) {
                return .error(400, "wait \(request.query["wait"] ?? "") is longer than this aggregator's maximum, 3.0 seconds; wait in shorter steps")
            }
            return await longPoll(request)
        }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", server.url, "--timeout", "30s"])
        #expect(result.status == 0, "\(result.stderr)")
        let waits = server.requests.compactMap(\.wait)
        #expect(waits.contains { $0 > .seconds(3) }, "never asked beyond the maximum: \(waits)")
        #expect(waits.last.map { $0 <= .seconds(3) } == true, "\(waits)")
    }

    @Test("a 200 that is not an answer (something else listens there) is an error, exit 2")
    func notAnAggregator() async throws {
        let server = try await ScriptedAggregator.start { _ in .raw(200, "<html>hello</html>") }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait", "--ip", "10.244.1.7", "--aggregator", server.url, "--timeout", "30s"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("is this a Settle aggregator?"), "\(result.stderr)")
    }

    @Test("POD_IP and SETTLE_AGGREGATOR are the defaults of --ip and --aggregator")
    func environmentDefaults() async throws {
        let server = try await ScriptedAggregator.start { _ in .answer(Answers.wait(done: true)) }
        defer { Task { await server.stop() } }
        let result = try await SettleProcess.run(["wait"], environment: ["POD_IP": "10.244.3.3", "SETTLE_AGGREGATOR": server.url])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(server.requests.first?.path == "/v1/endpoints/10.244.3.3")
    }

    @Test(
        "usage errors exit 2 (the wait contract), not 64, and name the problem",
        arguments: [
            (["--ip", "10.1.2"], "--ip"), (["--pod", "web-1"], "--pod"), (["--pod", "shop/web/1"], "--pod"),
            (["--ip", "10.1.2.3", "--pod", "shop/web-1"], "not both"), (["--ip", "10.1.2.3", "--for", "gone"], "--for"),
            (["--ip", "10.1.2.3", "--timeout", "soon"], "--timeout"), (["--ip", "10.1.2.3", "--bogus"], "--bogus"),
            ([], "POD_IP"), (["--ip", "10.1.2.3", "--aggregator", "ftp://x"], "aggregator URL"),
        ])
    func usageErrors(_ flags: [String], _ mentions: String) async throws {
        let result = try await SettleProcess.run(["wait"] + flags)
        #expect(result.status == 2, "\(flags): \(result.stderr)")
        #expect(result.stderr.contains(mentions), "\(flags): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("--help explains the exit statuses and shows a preStop hook")
    func help() async throws {
        let result = try await SettleProcess.run(["wait", "--help"])
        #expect(result.status == 0)
        for text in ["Exit status:", "0  done", "1  timeout", "2  error", "preStop:", "POD_IP", "SETTLE_AGGREGATOR", "not 64"] {
            #expect(result.stdout.contains(text), "\(text)")
        }
    }

    /// A local port nothing listens on.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw TestFailure("bind") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Counts calls from concurrent request handlers.
final class Counter: Sendable {
    private let value = Mutex(0)
    /// The count before this call.
    func next() -> Int {
        value.withLock { count in
            defer { count += 1 }
            return count
        }
    }
}
