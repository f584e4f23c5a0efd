import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The request context of the agent's API: Hummingbird's basics plus the connection, which an ack
/// stream closes when its reader stalls.
struct AgentRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Answers every request of the agent's API. One responder rather than a router: five fixed
/// paths, all `GET`, and the checks every request gets (method, query size) in one place.
struct AgentHTTPResponder: HTTPResponder {
    typealias Context = AgentRequestContext

    let configuration: AgentHTTPServer.Configuration
    let provider: any AgentStateProvider
    let hub: AckHub
    let metrics: AgentMetrics
    let streams: StreamLimiter
    let stop: StopSignal
    /// When set, `/v1/acks` and `/v1/state` need an allowed bearer token; probes and metrics never do.
    let authenticator: StreamAuthenticator?

    /// Prometheus text exposition format 0.0.4.
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"
    static let paths: Set<String> = ["/healthz", "/readyz", "/metrics", "/v1/acks", "/v1/state"]

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        guard Self.paths.contains(path) else {
            return Self.error(.notFound, "no such path: \(path.prefix(200)); see docs/agent-api.md")
        }
        guard request.method == .get else {
            var response = Self.error(.methodNotAllowed, "\(request.method.rawValue) not allowed: the agent API is read-only (GET)")
            response.headers[.allow] = "GET"
            return response
        }
        if let query = request.uri.query, query.utf8.count > configuration.maxQueryBytes {
            return Self.error(.uriTooLong, "query string longer than \(configuration.maxQueryBytes) bytes")
        }
        if let authenticator, path.hasPrefix("/v1/") {
            switch await authenticator.decide(authorization: request.headers[.authorization]) {
            case .allowed:
                break
            case .unauthenticated(let reason):
                var response = Self.error(.unauthorized, reason)
                response.headers[.wwwAuthenticate] = "Bearer"
                return response
            case .forbidden(let user):
                return Self.error(.forbidden, "\(user.isEmpty ? "this token's user" : user) may not read this agent (allowed: \(authenticator.configuration.allowedUsers.sorted().joined(separator: ", ")))")
            case .unavailable(let reason):
                var response = Self.error(.serviceUnavailable, reason)
                response.headers[.retryAfter] = "1"
                return response
            }
        }
        switch path {
        case "/healthz":
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        case "/readyz":
            let readiness = await provider.readiness()
            return Self.json(readiness, status: readiness.ready ? .ok : .serviceUnavailable)
        case "/metrics":
            metrics.setAckSequence(hub.sequence)
            return Response(
                status: .ok, headers: [.contentType: Self.metricsContentType],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        case "/v1/state":
            var document = await provider.state()
            document.ackStream = .init(epoch: hub.epoch, seq: hub.sequence, clients: streams.count)
            return Self.json(document)
        default:
            return acks(request, channel: context.channel)
        }
    }

    /// `/v1/acks?since=N&epoch=E`: snapshot or missed deltas, then live deltas and heartbeats.
    private func acks(_ request: Request, channel: any Channel) -> Response {
        let query = request.uri.queryParameters
        var since: UInt64?
        if let text = query["since"] {
            guard let value = UInt64(String(text)) else {
                return Self.error(.badRequest, "since must be a sequence number (a non-negative integer), not \(String(text).prefix(40).debugDescription)")
            }
            since = value
        }
        let epoch = query["epoch"].map(String.init)
        guard let slot = streams.acquire() else {
            var response = Self.error(.tooManyRequests, "\(streams.limit) ack streams are open, the most this agent serves; retry later")
            response.headers[.retryAfter] = "1"
            return response
        }
        let subscription = hub.subscribe(
            since: since, epoch: epoch, heartbeatInterval: configuration.heartbeatInterval, stop: stop)
        let writeTimeout = configuration.streamWriteTimeout
        return Response(
            status: .ok,
            headers: [.contentType: "application/x-ndjson", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                // The slot stays taken while the stream runs (and is freed if the body never does).
                defer { withExtendedLifetime(slot) {} }
                let pending = PendingWrite()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // A write that cannot finish means the reader stopped reading: close the connection,
                    // which fails the write and ends the stream.
                    group.addTask {
                        let period = max(writeTimeout / 4, .milliseconds(10))
                        while true {
                            try await Task.sleep(for: period)
                            if let since = pending.since, ContinuousClock.now - since > writeTimeout {
                                channel.close(promise: nil)
                                return
                            }
                        }
                    }
                    for await message in subscription {
                        pending.begin()
                        try await writer.write(ByteBuffer(bytes: AckWire.encode(message)))
                        pending.end()
                    }
                    group.cancelAll()
                }
                try await writer.finish(nil)
            })
    }

    private struct ErrorBody: Encodable {
        var status: Int
        var error: String
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(ErrorBody(status: status.code, error: message), status: status)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        var bytes = (try? AckWire.encoder.encode(value)).map { [UInt8]($0) } ?? Array(#"{"error":"encoding failed"}"#.utf8)
        bytes.append(UInt8(ascii: "\n"))
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// When the stream's current write began (`nil` between writes), for the stalled-reader watchdog.
final class PendingWrite: Sendable {
    private let started = Mutex<ContinuousClock.Instant?>(nil)

    var since: ContinuousClock.Instant? { started.withLock { $0 } }
    func begin() { started.withLock { $0 = .now } }
    func end() { started.withLock { $0 = nil } }
}
