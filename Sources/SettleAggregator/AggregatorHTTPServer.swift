import Foundation
import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
public import SettleAcks
public import SettleAggregation
import SettleModel
import Synchronization

/// The aggregator's HTTP API (docs/api.md): `/v1/endpoints/{ip}`, `/v1/pods/{namespace}/{name}`,
/// `/v1/services/{namespace}/{name}`, `/v1/nodes`, `/healthz`, `/readyz`, `/metrics`.
///
/// A ``Service``: run it in the aggregator's service group, or in a task and read the port with
/// ``waitForPort(timeout:)`` (port 0 picks a free one). A graceful shutdown answers every open
/// wait (not done, as it is then) before the server stops.
public struct AggregatorHTTPServer: Service {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Longest query string accepted; longer gets 414.
        public var maxQueryBytes: Int
        /// Longest path accepted; longer gets 414.
        public var maxPathBytes: Int
        /// While a wait is open, a space is sent this often, so a client that went away is noticed
        /// (the write fails) and its wait cancelled.
        public var keepAlive: Duration

        public init(
            host: String = "0.0.0.0", port: Int = SettleAggregation.defaultPort, maxQueryBytes: Int = 1024, maxPathBytes: Int = 512,
            keepAlive: Duration = .seconds(1)
        ) {
            self.host = host
            self.port = port
            self.maxQueryBytes = maxQueryBytes
            self.maxPathBytes = maxPathBytes
            self.keepAlive = keepAlive
        }
    }

    public let configuration: Configuration
    private let aggregator: Aggregator
    private let logger: Logger
    private let boundPort = BoundPort()

    public init(configuration: Configuration = .init(), aggregator: Aggregator, logger: Logger = Logger(label: "settle.aggregator.http")) {
        self.configuration = configuration
        self.aggregator = aggregator
        self.logger = logger
    }

    public func run() async throws {
        let boundPort = boundPort
        let logger = logger
        let app = Application(
            responder: AggregatorResponder(configuration: configuration, aggregator: aggregator),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port
                boundPort.set(port)
                logger.info("aggregator HTTP listening", metadata: ["port": "\(port.map(String.init) ?? "?")"])
            },
            logger: logger)
        try await app.run()
    }

    public var port: Int? { boundPort.value }

    /// The bound port; throws when the server is not up after `timeout`.
    public func waitForPort(timeout: Duration = .seconds(30)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let port = boundPort.value { return port }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw APIError(error: "the aggregator's HTTP server is not listening", status: 503)
    }

    private final class BoundPort: Sendable {
        private let port = Mutex<Int?>(nil)
        var value: Int? { port.withLock { $0 } }
        func set(_ value: Int?) { port.withLock { $0 = value } }
    }
}

/// An answer handed from the aggregator to the response that waits for it; waiting for it is
/// cancellation-aware and bounded, so the response can send keep-alive bytes in between.
final class AnswerSlot: Sendable {
    private struct State {
        var answer: WaitAnswer?
        var waiter: CheckedContinuation<WaitAnswer?, Never>?
    }

    private let state = Mutex(State())

    func set(_ answer: WaitAnswer) {
        let waiter = state.withLock { state -> CheckedContinuation<WaitAnswer?, Never>? in
            state.answer = answer
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: answer)
    }

    /// The answer, or `nil` when it did not come within `timeout`.
    func wait(timeout: Duration) async -> WaitAnswer? {
        if let answer = state.withLock({ $0.answer }) { return answer }
        return await withTaskGroup(of: WaitAnswer?.self) { group in
            group.addTask { await self.next() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? state.withLock { $0.answer }
        }
    }

    private func next() async -> WaitAnswer? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<WaitAnswer?, Never>) in
                let now = state.withLock { state -> WaitAnswer?? in
                    if let answer = state.answer { return .some(answer) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<WaitAnswer?, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}

/// Hummingbird's basics plus the connection.
struct AggregatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Answers every request: fixed paths, all `GET`, limits checked first.
struct AggregatorResponder: HTTPResponder {
    typealias Context = AggregatorRequestContext

    let configuration: AggregatorHTTPServer.Configuration
    let aggregator: Aggregator

    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"
    static let waitParameters: Set<String> = ["for", "wait"]

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        guard path.utf8.count <= configuration.maxPathBytes else {
            return Self.error(.uriTooLong, "path longer than \(configuration.maxPathBytes) bytes")
        }
        if let query = request.uri.query, query.utf8.count > configuration.maxQueryBytes {
            return Self.error(.uriTooLong, "query string longer than \(configuration.maxQueryBytes) bytes")
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { String($0) }
        let route = Route(parts)
        guard let route else { return Self.error(.notFound, "no such path: \(path.prefix(200)); see docs/api.md") }
        guard request.method == .get else {
            var response = Self.error(.methodNotAllowed, "\(request.method.rawValue) not allowed: the aggregator API is read-only (GET)")
            response.headers[.allow] = "GET"
            return response
        }
        switch route {
        case .healthz:
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        case .readyz:
            let (ready, reason) = await aggregator.readiness()
            return Self.json(Readiness(ready: ready, reason: reason), status: ready ? .ok : .serviceUnavailable)
        case .metrics:
            return Response(
                status: .ok, headers: [.contentType: Self.metricsContentType],
                body: .init(byteBuffer: ByteBuffer(bytes: aggregator.metrics.exposition())))
        case .nodes:
            return Self.json(await aggregator.nodesAnswer())
        case .service(let namespace, let name):
            guard Self.isName(namespace), Self.isName(name) else {
                return Self.error(.badRequest, "not a Service namespace/name: \(String("\(namespace)/\(name)".prefix(200)).debugDescription)")
            }
            let (ready, reason) = await aggregator.readiness()
            guard ready else { return Self.notReady(reason) }
            guard let answer = await aggregator.serviceAnswer("\(namespace)/\(name)") else {
                return Self.error(.notFound, "no EndpointSlice of Service \(namespace)/\(name) seen, and no node acknowledges its endpoints")
            }
            return Self.json(answer)
        case .endpoint(let text):
            guard let ip = IPAddress(text.removingPercentEncoding ?? text) else {
                return Self.error(.badRequest, "not an IP address: \(String(text.prefix(60)).debugDescription)")
            }
            return await wait(request, channel: context.channel, query: WaitQuery(ip: ip.description), ips: { aggregator in
                await aggregator.isKnown(ip) ? [ip] : nil
            }, unknown: "no EndpointSlice lists \(ip) (or listed it recently)")
        case .pod(let namespace, let name):
            guard Self.isName(namespace), Self.isName(name) else {
                return Self.error(.badRequest, "not a Pod namespace/name: \(String("\(namespace)/\(name)".prefix(200)).debugDescription)")
            }
            let pod = "\(namespace)/\(name)"
            return await wait(request, channel: context.channel, query: WaitQuery(pod: pod), ips: { aggregator in
                await aggregator.ips(ofPod: pod)
            }, unknown: "no EndpointSlice names pod \(pod) (or named it recently)")
        }
    }

    private func wait(
        _ request: Request, channel: any Channel, query: WaitQuery, ips resolve: (Aggregator) async -> [IPAddress]?,
        unknown: String
    ) async -> Response {
        let parameters = request.uri.queryParameters
        for (key, _) in parameters where !Self.waitParameters.contains(String(key)) {
            return Self.error(.badRequest, "unknown query parameter \(String(key).prefix(40).debugDescription); use for= and wait=")
        }
        var target = WaitTarget.drained
        if let text = parameters["for"] {
            guard let value = WaitTarget(rawValue: String(text)) else {
                return Self.error(.badRequest, "for must be drained or programmed, not \(String(text).prefix(40).debugDescription)")
            }
            target = value
        }
        var timeout = Duration.zero
        let maxWait = aggregator.configuration.maxWait
        if let text = parameters["wait"] {
            guard let value = DurationText.parse(String(text), maximumSeconds: .infinity) else {
                return Self.error(.badRequest, "wait must be a duration such as 500ms, 30s or 2m, not \(String(text).prefix(40).debugDescription)")
            }
            guard value <= maxWait else {
                return Self.error(.badRequest, "wait \(text) is longer than this aggregator's maximum, \(maxWait); wait in shorter steps")
            }
            timeout = value
        }
        let (ready, reason) = await aggregator.readiness()
        guard ready else { return Self.notReady(reason) }
        guard let ips = await resolve(aggregator), !ips.isEmpty else { return Self.error(.notFound, unknown) }
        let opened: Aggregator.Opened
        do {
            opened = try await aggregator.openWait(query: query, ips: ips, target: target, timeout: timeout)
        } catch {
            switch error {
            case .notReady(let reason): return Self.notReady(reason)
            case .tooManyWaiters(let limit):
                var response = Self.error(.tooManyRequests, "\(limit) waits are open, the most this aggregator holds; retry later")
                response.headers[.retryAfter] = "1"
                return response
            }
        }
        guard case .waiting(let id) = opened else {
            if case .answered(let answer) = opened { return Self.json(answer) }
            return Self.error(.internalServerError, "no answer")
        }
        // While it waits, the response sends a space (JSON allows leading whitespace) every
        // `keepAlive`: a client that went away makes the write fail, which cancels its wait, so it
        // does not hold a waiter's place until the deadline. (The server does not read a
        // connection while it answers a request, so a hang-up is only seen when writing.)
        let aggregator = aggregator
        let keepAlive = configuration.keepAlive
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                let slot = AnswerSlot()
                let collecting = Task { slot.set(await aggregator.answer(of: id)) }
                do {
                    while true {
                        if let answer = await slot.wait(timeout: keepAlive) {
                            try await writer.write(ByteBuffer(bytes: Self.jsonBytes(answer)))
                            break
                        }
                        try await writer.write(ByteBuffer(string: " "))
                    }
                } catch {
                    collecting.cancel()
                    await aggregator.cancelWait(id)
                    throw error
                }
                try await writer.finish(nil)
            })
    }

    enum Route {
        case healthz, readyz, metrics, nodes
        case endpoint(String)
        case pod(String, String)
        case service(String, String)

        init?(_ parts: [String]) {
            switch parts.count {
            case 1:
                switch parts[0] {
                case "healthz": self = .healthz
                case "readyz": self = .readyz
                case "metrics": self = .metrics
                default: return nil
                }
            case 2:
                guard parts == ["v1", "nodes"] else { return nil }
                self = .nodes
            case 3:
                guard parts[0] == "v1", parts[1] == "endpoints", !parts[2].isEmpty else { return nil }
                self = .endpoint(parts[2])
            case 4:
                guard parts[0] == "v1" else { return nil }
                switch parts[1] {
                case "pods": self = .pod(parts[2], parts[3])
                case "services": self = .service(parts[2], parts[3])
                default: return nil
                }
            default:
                return nil
            }
        }
    }

    /// A DNS-1123 label or subdomain, as namespaces and names are (253 characters at most).
    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 253
            && text.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }
    }

    struct Readiness: Encodable {
        var ready: Bool
        var reason: String?
    }

    static func notReady(_ reason: String?) -> Response {
        var response = error(.serviceUnavailable, "the aggregator is not ready: \(reason ?? "syncing")")
        response.headers[.retryAfter] = "1"
        return response
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(APIError(error: message, status: status.code), status: status)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: jsonBytes(value))))
    }

    static func jsonBytes(_ value: some Encodable) -> [UInt8] {
        var bytes = (try? AckWire.encoder.encode(value)).map { [UInt8]($0) } ?? Array(#"{"error":"encoding failed","status":500}"#.utf8)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }
}
