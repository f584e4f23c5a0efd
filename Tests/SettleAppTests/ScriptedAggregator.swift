import Foundation
import Hummingbird
import Logging
import NIOCore
import SettleAcks
import SettleAggregation
import Synchronization

/// An in-process HTTP server that speaks the aggregator's API (`/v1/endpoints/{ip}`,
/// `/v1/pods/{ns}/{name}`, `/v1/nodes`) with real ``WaitAnswer`` values, answering as a script
/// says: the `settle` binary's tools run against it unchanged.
final class ScriptedAggregator: Sendable {
    /// One request as the server saw it.
    struct Request: Sendable {
        var path: String
        var query: [String: String]
        var at: ContinuousClock.Instant
        var authorization: String? = nil

        /// `wait=1500ms` as a duration.
        var wait: Duration? {
            guard let text = query["wait"] else { return nil }
            if text.hasSuffix("ms"), let ms = Int64(text.dropLast(2)) { return .milliseconds(ms) }
            if text.hasSuffix("s"), let s = Double(text.dropLast()) { return .milliseconds(Int64(s * 1000)) }
            return nil
        }
    }

    /// What the script answers.
    enum Reply: Sendable {
        case answer(WaitAnswer)
        case nodes(NodesAnswer)
        case service(ServiceAnswer)
        case error(Int, String, retryAfter: Int? = nil)
        /// Not JSON at all: a proxy's page.
        case raw(Int, String)
    }

    typealias Script = @Sendable (Request) async -> Reply

    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }
    private let task: Task<Void, any Error>
    private let log: RequestLog

    /// Every request so far, in arrival order.
    var requests: [Request] { log.requests.withLock { $0 } }
    /// Requests being answered right now (long polls in progress).
    var open: Int { log.open.withLock { $0 } }

    private init(port: Int, task: Task<Void, any Error>, log: RequestLog) {
        self.port = port
        self.task = task
        self.log = log
    }

    /// Starts the server on a free port and returns once it listens.
    static func start(_ script: @escaping Script) async throws -> ScriptedAggregator {
        let log = RequestLog()
        let boundPort = BoundPort()
        let router = Router()
        router.get("**") { request, _ in
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
            let seen = Request(path: request.uri.path, query: query, at: .now, authorization: request.headers[.authorization])
            log.requests.withLock { $0.append(seen) }
            log.open.withLock { $0 += 1 }
            defer { log.open.withLock { $0 -= 1 } }
            return Self.response(await script(seen))
        }
        var logger = Logger(label: "settle.test.scripted-aggregator")
        logger.logLevel = .critical  // stopping by cancellation logs an error otherwise
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in boundPort.port.withLock { $0 = channel.localAddress?.port } }, logger: logger)
        let task = Task { try await app.run() }
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let port = boundPort.port.withLock({ $0 }) {
                return ScriptedAggregator(port: port, task: task, log: log)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        throw TestFailure("the scripted aggregator did not start listening")
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }

    private static func response(_ reply: Reply) -> Response {
        let (status, body, retryAfter): (Int, [UInt8], Int?)
        switch reply {
        case .answer(let answer): (status, body, retryAfter) = (200, Self.encode(answer), nil)
        case .nodes(let nodes): (status, body, retryAfter) = (200, Self.encode(nodes), nil)
        case .service(let service): (status, body, retryAfter) = (200, Self.encode(service), nil)
        case .error(let code, let message, let after): (status, body, retryAfter) = (code, Self.encode(APIError(error: message, status: code)), after)
        case .raw(let code, let text): (status, body, retryAfter) = (code, Array(text.utf8), nil)
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private static func encode(_ value: some Encodable) -> [UInt8] {
        (try? AckWire.encoder.encode(value)).map { [UInt8]($0) } ?? []
    }
}

/// Builders of answers as the real aggregator gives them.
enum Answers {
    static let nodes = ["node-a", "node-b", "node-c"]

    /// The answer for `ip`: done, or waiting for `node-b` (stale).
    static func wait(ip: String = "10.244.1.7", pod: String? = nil, for target: WaitTarget = .drained, done: Bool, timedOut: Bool = false)
        -> WaitAnswer
    {
        let stale = NodeVerdict(node: "node-b", state: "stale", reason: .stale, detail: "kube-proxy on node-b still routes new connections to it")
        let pending = done ? [] : [stale]
        let summary = done ? "\(target) on 3 of 3 nodes" : "waiting for 1 of 3 nodes: node-b stale"
        return WaitAnswer(
            query: WaitQuery(ip: pod == nil ? ip : nil, pod: pod), for: target, done: done, timedOut: timedOut, summary: summary,
            endpoint: EndpointView(
                ips: [ip], services: ["shop/web"], state: "terminating",
                change: EndpointChange(slice: "web-abcde", uid: "0b9d", generation: 7, resourceVersion: "1288311", observedAt: Date())),
            nodes: NodeCounts(total: 3, counted: 3, done: done ? 3 : 2, pending: done ? 0 : 1, unknown: 0, excluded: 0),
            pending: pending, unknown: [], excluded: [], policy: WaitPolicy(unknownNodes: .block), elapsedSeconds: 0.01,
            sinceChangeSeconds: 0.5)
    }

    /// A script that is not done until `doneAfter` has passed since it was made, and long-polls as
    /// the aggregator does: a request waits up to its `wait=` and is answered the moment it is done.
    static func becomesDone(after doneAfter: Duration, for target: WaitTarget = .drained) -> ScriptedAggregator.Script {
        becomesDone(at: ContinuousClock.now + doneAfter, for: target)
    }

    static func becomesDone(at doneAt: ContinuousClock.Instant, for target: WaitTarget = .drained) -> ScriptedAggregator.Script {
        { request in
            let now = ContinuousClock.now
            if now >= doneAt { return .answer(wait(for: target, done: true)) }
            let until = request.wait.map { now + $0 } ?? now
            try? await Task.sleep(until: min(doneAt, until))
            let done = ContinuousClock.now >= doneAt
            return .answer(wait(for: target, done: done, timedOut: !done && request.wait != nil))
        }
    }

    /// Like ``becomesDone(at:for:)``, but done once the test calls `done.set()`.
    static func becomesDone(when done: Flag) -> ScriptedAggregator.Script {
        { request in
            let until = ContinuousClock.now + (request.wait ?? .zero)
            while !done.isSet && ContinuousClock.now < until {
                try? await Task.sleep(for: .milliseconds(20))
            }
            return .answer(wait(done: done.isSet, timedOut: !done.isSet && request.wait != nil))
        }
    }

    static let serviceAnswer = ServiceAnswer(
        service: "shop/web", converged: false, summary: "not converged on 1 of 2 nodes",
        nodes: [
            ServiceNode(node: "node-a", status: "converged", states: ["programmed": 2]),
            ServiceNode(
                node: "node-b", status: "pending", reason: .stale, states: ["stale": 1, "programmed": 1],
                notConverged: ["10.244.1.7:8080/TCP stale (terminating)"], lagSeconds: 3.5),
        ],
        counts: NodeCounts(total: 2, counted: 2, done: 1, pending: 1, unknown: 0, excluded: 0), policy: WaitPolicy(unknownNodes: .block))

    static let nodesAnswer = NodesAnswer(
        nodes: [
            NodeHealth(
                node: "node-a", status: "healthy", agent: "http://10.0.0.1:9467", connected: true, ready: true, mode: "nftables",
                epoch: "3f9c0a7d12e4b685", seq: 42, watch: "1288311", lastMessage: Date(), silentSeconds: 0.4, inTransition: 2,
                notConverged: 1, lagSeconds: 1.25, nodeReady: true, connects: 1),
            NodeHealth(
                node: "node-b", status: "unknown", reason: .disconnected, detail: "connection refused", agent: "http://10.0.0.2:9467",
                connected: false, mode: "iptables", nodeReady: true, connects: 3),
            NodeHealth(node: "node-c", status: "excluded", reason: .noAgent, detail: "no agent on the node", nodeReady: true),
        ],
        counts: .init(total: 3, healthy: 1, unknown: 1, excluded: 1), policy: WaitPolicy(unknownNodes: .block), watch: "1288311")
}

private final class RequestLog: Sendable {
    let requests = Mutex<[ScriptedAggregator.Request]>([])
    let open = Mutex(0)
}

private final class BoundPort: Sendable {
    let port = Mutex<Int?>(nil)
}

/// A one-way switch shared by a test and its scripted server.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
