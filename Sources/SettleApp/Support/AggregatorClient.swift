import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import SettleAcks
import SettleAggregation
import SettleKubeClient

/// What a wait asks the aggregator about: one endpoint IP, or a pod (the IPs its slices gave it).
enum WaitSubject: Sendable, Hashable, CustomStringConvertible {
    case ip(String)
    case pod(namespace: String, name: String)

    /// `NS/NAME`, both parts non-empty, no further `/`.
    static func pod(_ text: String) -> WaitSubject? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return .pod(namespace: String(parts[0]), name: String(parts[1]))
    }

    /// The API path: `/v1/endpoints/{ip}` or `/v1/pods/{namespace}/{name}`.
    var path: String {
        switch self {
        case .ip(let ip): "/v1/endpoints/\(Self.escape(ip))"
        case .pod(let namespace, let name): "/v1/pods/\(Self.escape(namespace))/\(Self.escape(name))"
        }
    }

    var description: String {
        switch self {
        case .ip(let ip): ip
        case .pod(let namespace, let name): "pod \(namespace)/\(name)"
        }
    }

    /// One path segment, percent-encoded (`/` included).
    static func escape(_ segment: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }
}

/// Why one request to the aggregator gave no answer.
enum AggregatorFailure: Error, Sendable, CustomStringConvertible {
    /// No HTTP answer: refused, reset, name not resolved, timed out.
    case unreachable(String)
    /// An error answer, with its `Retry-After` when it had one. `fromAggregator` is false when the
    /// body was not the API's JSON error (a proxy's or another server's page).
    case status(APIError, retryAfter: Duration?, fromAggregator: Bool)
    /// An answer that is not what the API sends: probably not an aggregator at that URL.
    case malformed(String)

    /// Worth trying again before the deadline: the aggregator may be starting, restarting or
    /// overloaded. 400 (bad input), 404 and other 4xx are the caller's to judge.
    var isTransient: Bool {
        switch self {
        case .unreachable: true
        case .status(let error, _, _): error.status == 429 || error.status >= 500
        case .malformed: false
        }
    }

    var description: String {
        switch self {
        case .unreachable(let why): why
        case .status(let error, _, _): "\(error.status) \(error.error)"
        case .malformed(let why): why
        }
    }
}

/// A client of the aggregator's HTTP API (docs/tools.md): wait answers, nodes.
///
/// One `HTTPClient` for the client's life; call ``shutdown()`` when done with it.
struct AggregatorClient: Sendable {
    /// The aggregator's Service inside the cluster.
    static let defaultURL = "http://settle-aggregator.settle-system.svc:9468"
    /// The longest `wait=` one request asks for: progress is reported at least this often, and
    /// a dropped connection costs at most this much of a wait.
    static let longestPoll: Duration = .seconds(10)
    /// The first request waits briefly, so a wait that is not done at once reports progress soon.
    static let firstPoll: Duration = .seconds(1)
    /// Largest answer body accepted.
    static let maxBodyBytes = 16 << 20

    /// How `kubectl settle` reaches the aggregator by default: the API server's service proxy.
    static let defaultKubeURL = "kube://settle-system/settle-aggregator:9468"

    let baseURL: String
    private let http: HTTPClient
    /// Sent with every request: the API server's credentials for a `kube://` URL.
    private let authorization: String?

    /// `url` is `http://HOST[:PORT]` or `https://…`, optionally with a path prefix, or
    /// `kube://NAMESPACE/SERVICE:PORT`: through the Kubernetes API server's service proxy, with the
    /// credentials of `$KUBECONFIG` or `~/.kube/config` (or the pod's service account), as kubectl.
    init(url: String, connectTimeout: Duration = .seconds(2), environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(AggregatorFailure)
    {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https", "kube"].contains(scheme),
            parsed.host?.isEmpty == false
        else {
            throw .malformed("aggregator URL \"\(url)\" is not http(s)://HOST[:PORT] or kube://NAMESPACE/SERVICE:PORT")
        }
        var tls: TLSConfiguration?
        var base = url
        var authorization: String?
        if scheme == "kube" {
            let service = parsed.path.drop { $0 == "/" }
            guard let namespace = parsed.host, !service.isEmpty, !service.contains("/") else {
                throw .malformed("aggregator URL \"\(url)\" is not kube://NAMESPACE/SERVICE:PORT")
            }
            let kube: KubeClientConfiguration
            do {
                kube = try KubeConfigLoader.load(environment: environment)
                tls = try Self.tlsConfiguration(kube.tls)
                switch kube.credentials {
                case .none: break
                case .bearerToken(let token): authorization = "Bearer \(token)"
                case .bearerTokenFile(let path):
                    let token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                    authorization = "Bearer \(token)"
                }
            } catch {
                throw .malformed("cannot reach \(url) through the API server: \(error)")
            }
            var server = kube.server
            while server.hasSuffix("/") { server.removeLast() }
            base = "\(server)/api/v1/namespaces/\(WaitSubject.escape(namespace))/services/\(WaitSubject.escape(String(service)))/proxy"
        }
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.authorization = authorization
        var configuration = HTTPClient.Configuration()
        if let tls { configuration.tlsConfiguration = tls }
        configuration.timeout.connect = .milliseconds(connectTimeout.inMilliseconds)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        // Fail fast and let the waiter retry: it reports each failure and knows the deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// `flag`, else `$SETTLE_AGGREGATOR`, else the default: the in-cluster Service, or for
    /// `kubectl settle` (run from outside the cluster) the API server's proxy to it.
    static func url(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let flag, !flag.isEmpty { return flag }
        if let env = environment["SETTLE_AGGREGATOR"], !env.isEmpty { return env }
        return SettleLauncher.isKubectlPlugin ? defaultKubeURL : defaultURL
    }

    /// The TLS settings of a kubeconfig as NIOSSL wants them (as `KubeClient` builds them).
    private static func tlsConfiguration(_ settings: TLSSettings) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = settings.certificateAuthorityPEM {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
        }
        if let certificate = settings.clientCertificatePEM, let key = settings.clientKeyPEM {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
        }
        if settings.insecureSkipVerify { tls.certificateVerification = .none }
        return tls
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    /// One answer for `subject`: at once, or after the server waited up to `wait` for it to be done.
    func answer(_ subject: WaitSubject, for target: WaitTarget, wait: Duration?, timeout: Duration) async throws(AggregatorFailure)
        -> WaitAnswer
    {
        var query = "for=\(target.rawValue)"
        if let wait { query += "&wait=\(max(0, wait.inMilliseconds))ms" }
        return try await get(WaitAnswer.self, path: subject.path + "?" + query, timeout: timeout)
    }

    /// `GET /v1/nodes`.
    func nodes(timeout: Duration = .seconds(10)) async throws(AggregatorFailure) -> NodesAnswer {
        try await get(NodesAnswer.self, path: "/v1/nodes", timeout: timeout)
    }

    /// `GET /v1/services/{namespace}/{name}`.
    func service(namespace: String, name: String, timeout: Duration = .seconds(10)) async throws(AggregatorFailure) -> ServiceAnswer {
        try await get(ServiceAnswer.self, path: "/v1/services/\(WaitSubject.escape(namespace))/\(WaitSubject.escape(name))", timeout: timeout)
    }

    private func get<T: Decodable>(_ type: T.Type, path: String, timeout: Duration) async throws(AggregatorFailure) -> T {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "settle/\(SettleVersion.current)")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: .milliseconds(max(1, timeout.inMilliseconds)))
            status = response.status
            headers = response.headers
            body = try await response.body.collect(upTo: Self.maxBodyBytes)
        } catch {
            throw .unreachable(Self.explain(error))
        }
        let data = Data(body.readableBytesView)
        guard status == .ok else {
            let retryAfter = headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                .map { Duration.seconds(max(0, $0)) }
            if let apiError = try? AckWire.decoder.decode(APIError.self, from: data) {
                throw .status(apiError, retryAfter: retryAfter, fromAggregator: true)
            }
            // A proxy or a load balancer answered, not the aggregator: keep its status, quote its body.
            let text = String(decoding: data.prefix(160), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            throw .status(
                APIError(error: text.isEmpty ? status.reasonPhrase : text, status: Int(status.code)), retryAfter: retryAfter, fromAggregator: false)
        }
        do {
            return try AckWire.decoder.decode(T.self, from: data)
        } catch {
            let text = String(decoding: data.prefix(120), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
            throw .malformed("\(baseURL)\(path) answered 200 with something that is not a \(T.self) (is this a Settle aggregator?): \(text)")
        }
    }

    /// One short phrase for a transport error (the error types' own descriptions are long).
    static func explain(_ error: any Error) -> String {
        let text = String(describing: error)
        let known: [(String, String)] = [
            ("connectTimeout", "connection timed out"), ("deadlineExceeded", "request timed out"),
            ("readTimeout", "request timed out"), ("remoteConnectionClosed", "connection closed by the aggregator"),
            ("Connection refused", "connection refused"), ("Connection reset", "connection reset"),
            ("dnsAError", "name not resolved"), ("dnsAAAAError", "name not resolved"), ("unknownHost", "name not resolved"),
            ("No route to host", "no route to host"), ("Network is unreachable", "network unreachable"),
            ("bodyLengthMismatch", "answer cut short"), ("responseBodyTooLong", "answer too large"),
        ]
        for (needle, phrase) in known where text.contains(needle) { return phrase }
        return String(text.prefix(200))
    }
}

// MARK: - Waiting

/// How a wait ended.
enum WaitOutcome: Sendable {
    /// The aggregator said done.
    case done(WaitAnswer)
    /// Waiting for `drained`, and the aggregator does not know the IP or pod (404): no
    /// EndpointSlice lists it, or none has for long, so no node routes new connections to it.
    case notAnEndpoint(String)
    /// The deadline passed before done; the last answer, if any, says who is still pending.
    /// `note` says why there was no answer (e.g. no EndpointSlice lists the endpoint yet).
    case timedOut(WaitAnswer?, note: String?)
    /// No answer could be had: a permanent error (bad input, not an aggregator), or the aggregator
    /// was unreachable when the deadline passed.
    case failed(String, last: WaitAnswer?)
}

/// What the waiter reports between requests.
enum WaitProgress: Sendable {
    /// An answer that is not done yet.
    case answer(WaitAnswer)
    /// A request failed and will be repeated; the text says why.
    case retrying(String)
}

extension AggregatorClient {
    /// Long-polls until `subject` is `target` on every counted node or `timeout` has passed.
    ///
    /// Each request asks the server to wait `min(remaining, longestPoll)`; the server answers the
    /// moment the endpoint is done. Transient failures (no connection, 429, 5xx) are retried with
    /// a capped backoff (or the server's `Retry-After`) until the deadline; 400 and other
    /// permanent errors end the wait. 404 ends a `drained` wait (nothing routes to it) and is
    /// retried for `programmed` (the slice has not appeared yet). Returns within about a second of
    /// the deadline even when the aggregator hangs.
    func wait(
        for subject: WaitSubject, until target: WaitTarget, timeout: Duration,
        progress: @Sendable (WaitProgress) -> Void = { _ in }
    ) async -> WaitOutcome {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last: WaitAnswer?
        var problem: (text: String, unreachable: Bool)?
        var backoff = Duration.milliseconds(100)
        var poll = Self.firstPoll
        var longest = Self.longestPoll
        while true {
            let remaining = deadline - clock.now
            guard remaining > .milliseconds(5) else { break }
            let wait = min(remaining, poll)
            let started = clock.now
            do {
                let answer = try await self.answer(subject, for: target, wait: wait, timeout: min(wait + .seconds(3), remaining + .seconds(1)))
                last = answer
                problem = nil
                backoff = .milliseconds(100)
                poll = longest
                if answer.done { return .done(answer) }
                progress(.answer(answer))
                // A server that answers "not done" before the wait is over must not make this spin.
                if !answer.timedOut, clock.now - started < .milliseconds(200) {
                    try? await Task.sleep(for: min(.milliseconds(200), max(.zero, deadline - clock.now)))
                }
            } catch {
                if case .status(let apiError, _, let fromAggregator) = error, apiError.status == 404 {
                    // Only the aggregator's own "unknown IP or pod" means that: a 404 page of some
                    // other server (a wrong URL) must not pass for "drained".
                    guard fromAggregator, !apiError.error.hasPrefix("no such path") else {
                        return .failed("aggregator at \(baseURL): \(error) (is this a Settle aggregator's URL?)", last: last)
                    }
                    if target == .drained { return .notAnEndpoint(apiError.error) }
                    problem = ("no EndpointSlice lists \(subject) yet (\(apiError.error))", false)
                } else if case .status(let apiError, _, true) = error, apiError.status == 400, wait > Self.firstPoll {
                    // An aggregator whose --max-wait is shorter than our poll: ask in shorter steps.
                    // (The first request waits only `firstPoll`, so bad input fails at once.)
                    longest = max(Self.firstPoll, wait / 2)
                    poll = longest
                    progress(.retrying("aggregator at \(baseURL): \(error); asking again with wait=\(longest.inMilliseconds)ms"))
                    continue
                } else if error.isTransient {
                    problem = ("aggregator at \(baseURL): \(error)", true)
                } else {
                    return .failed("aggregator at \(baseURL): \(error)", last: last)
                }
                progress(.retrying(problem!.text))
                var pause = backoff
                if case .status(_, let retryAfter?, _) = error { pause = min(retryAfter, .seconds(10)) }
                backoff = min(backoff * 2, .seconds(2))
                let left = deadline - clock.now
                guard left > .zero else { break }
                try? await Task.sleep(for: min(pause, left))
            }
            if Task.isCancelled { break }
        }
        if let problem, problem.unreachable {
            return .failed("no answer from the aggregator before the deadline; last try: \(problem.text)", last: last)
        }
        return .timedOut(last, note: problem?.text)
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var inMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a `Double`.
    var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
