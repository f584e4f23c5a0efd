import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SettleAcks
import SettleAggregation
import Synchronization
import UnixSignals

/// `settle drain-sidecar`: `settle wait --for drained` over HTTP, for an httpGet preStop hook.
struct DrainSidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain-sidecar",
        abstract: "Serves GET /wait-for-drain for an app container's httpGet preStop hook (the app image needs nothing).",
        discussion: """
            Runs next to the app in its pod and serves:
              GET /wait-for-drain   blocks until the pod's endpoint is drained on every counted node (asks \
            the aggregator, as `settle wait --for drained`), or --timeout passes; answers 200 with the \
            aggregator's JSON answer when drained (also when no Service lists the pod at all), 504 with the \
            last answer on timeout, 502 with {"error":…,"status":502} when the aggregator could not be \
            asked by the deadline
              GET /healthz          200 ok

            The pod is --pod-ip (default $POD_IP), else --pod NAMESPACE/NAME (default $POD_NAMESPACE/$POD_NAME); \
            set them from the downward API.

            Shutdown. A regular sidecar container gets SIGTERM as soon as the pod is deleted (it has no \
            preStop of its own), maybe before the app's preStop request arrives, maybe while it waits. So \
            after SIGTERM the sidecar keeps listening and serving: it exits 0 once no wait is in flight and \
            either a wait has answered "drained" (the app's preStop is done) or --drain-grace has passed \
            (no preStop request came). Give the pod a terminationGracePeriodSeconds above --timeout. A native \
            sidecar (an initContainer with restartPolicy: Always, Kubernetes ≥ 1.29) is stopped only after \
            the app containers, once their preStop hooks are done: it then exits at once.

            Example (app container):
              lifecycle:
                preStop:
                  httpGet: {path: /wait-for-drain, port: 9469}
            """)

    @Option(help: "Address and port to listen on (port 0 picks one and logs it).")
    var listen = "0.0.0.0:9469"

    @Option(help: "The pod's IP. (default: $POD_IP)")
    var podIP: String?

    @Option(help: ArgumentHelp("The pod, as NAMESPACE/NAME, when no IP is given. (default: $POD_NAMESPACE/$POD_NAME)", valueName: "namespace/name"))
    var pod: String?

    @Option(help: "How long one /wait-for-drain request waits at most.")
    var timeout = DurationArgument("60s")

    @Option(help: "After SIGTERM, how long to keep serving for a preStop request that has not come. (default: --timeout)")
    var drainGrace: DurationArgument?

    @Option(help: "The aggregator's URL. (default: $SETTLE_AGGREGATOR, else \(AggregatorClient.defaultURL))")
    var aggregator: String?

    @Option(help: "Log format: json or text.")
    var logFormat: LogFormat = .json

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard AgentCommand.hostPort(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, e.g. 0.0.0.0:9469") }
        if podIP != nil && pod != nil { throw ValidationError("pass --pod-ip or --pod, not both") }
        if let podIP, !WaitCommand.looksLikeIP(podIP) { throw ValidationError("--pod-ip must be an IP address, got \"\(podIP)\"") }
        if let pod, WaitSubject.pod(pod) == nil { throw ValidationError("--pod must be NAMESPACE/NAME, got \"\(pod)\"") }
        guard timeout.duration > .zero else { throw ValidationError("--timeout must be more than 0") }
    }

    /// The pod, from the flags, then the downward API's variables.
    func subject(environment: [String: String]) -> WaitSubject? {
        if let podIP { return .ip(podIP) }
        if let pod { return WaitSubject.pod(pod) }
        if let ip = environment["POD_IP"], WaitCommand.looksLikeIP(ip) { return .ip(ip) }
        if let namespace = environment["POD_NAMESPACE"], let name = environment["POD_NAME"], !namespace.isEmpty, !name.isEmpty {
            return .pod(namespace: namespace, name: name)
        }
        return nil
    }

    func run() async throws {
        Logs.bootstrap(format: logFormat, level: logLevel)
        let logger = Logger(label: "settle.drain-sidecar")
        guard let subject = subject(environment: ProcessInfo.processInfo.environment) else {
            throw Terminal.failure("no pod: pass --pod-ip or --pod NAMESPACE/NAME, or set POD_IP (downward API: status.podIP)")
        }
        let client: AggregatorClient
        do {
            client = try AggregatorClient(url: AggregatorClient.url(flag: aggregator))
        } catch {
            throw Terminal.failure("\(error)")
        }
        let (host, port) = AgentCommand.hostPort(listen)!
        let waits = DrainWaits()
        let router = Router()
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        let timeout = timeout.duration
        router.get("/wait-for-drain") { _, _ in
            await Self.waitForDrain(subject: subject, client: client, timeout: timeout, waits: waits, logger: logger)
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                logger.info(
                    "drain sidecar listening",
                    metadata: [
                        "port": "\(channel.localAddress?.port.map(String.init) ?? "?")", "pod": "\(subject)",
                        "aggregator": "\(client.baseURL)",
                    ])
            },
            logger: logger)
        // Services stop in reverse order: on SIGTERM the gate holds the server up until the waits are over.
        let gate = DrainGate(waits: waits, grace: drainGrace?.duration ?? timeout, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: app), .init(service: gate, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await client.shutdown()
            throw Terminal.failure("drain sidecar stopped: \(error)")
        }
        await client.shutdown()
        logger.info("stopped", metadata: ["waits": "\(waits.served)"])
    }

    /// One `/wait-for-drain`: 200 drained, 504 timeout, 502 no answer.
    static func waitForDrain(subject: WaitSubject, client: AggregatorClient, timeout: Duration, waits: DrainWaits, logger: Logger) async
        -> Response
    {
        waits.begin()
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = await client.wait(for: subject, until: .drained, timeout: timeout)
        let elapsed = start.duration(to: clock.now)
        let report = WaitReport(outcome: outcome, subject: subject, target: .drained, elapsed: elapsed)
        let response: Response
        switch outcome {
        case .done(let answer):
            response = json(.ok, answer)
        case .notAnEndpoint(let why):
            response = json(.ok, WaitAnswer.notAnEndpoint(subject, why: why, elapsed: elapsed))
        case .timedOut(let answer?, _):
            response = json(.gatewayTimeout, answer)
        case .timedOut(nil, _):
            response = json(.gatewayTimeout, APIError(error: report.line, status: 504))
        case .failed:
            response = json(.badGateway, APIError(error: report.line, status: 502))
        }
        logger.log(level: report.status == 0 ? .info : .warning, "\(report.line)", metadata: ["status": "\(response.status.code)"])
        waits.end(drained: report.status == 0)
        return response
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        var bytes = (try? AckWire.encoder.encode(value)).map { [UInt8]($0) } ?? []
        bytes.append(UInt8(ascii: "\n"))
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// The `/wait-for-drain` requests in flight, and whether one has answered "drained".
final class DrainWaits: Sendable {
    private let state = Mutex<(inFlight: Int, served: Int, drained: Bool)>((0, 0, false))

    func begin() { state.withLock { $0.inFlight += 1 } }

    func end(drained: Bool) {
        state.withLock {
            $0.inFlight -= 1
            $0.served += 1
            if drained { $0.drained = true }
        }
    }

    var inFlight: Int { state.withLock { $0.inFlight } }
    var served: Int { state.withLock { $0.served } }
    var drained: Bool { state.withLock { $0.drained } }
}

/// Holds the sidecar's server up after SIGTERM: until no wait is in flight and either a wait has
/// answered "drained" or `grace` has passed. Last in the service group, so it is shut down first
/// and the server (shut down next) keeps accepting requests meanwhile.
struct DrainGate: Service {
    let waits: DrainWaits
    let grace: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is going away without a graceful shutdown
        }
        let clock = ContinuousClock()
        let deadline = clock.now + grace
        logger.info(
            "shutting down: serving /wait-for-drain until the waits are over",
            metadata: ["inFlight": "\(waits.inFlight)", "drained": "\(waits.drained)", "grace": "\(grace)"])
        while waits.inFlight > 0 || (!waits.drained && clock.now < deadline) {
            do {
                try await Task.sleep(for: .milliseconds(50))
            } catch {
                return
            }
        }
    }
}

extension WaitAnswer {
    /// The answer for an IP or pod the aggregator does not know (404) while waiting for
    /// `drained`: done, since no EndpointSlice lists it and so no node routes to it.
    static func notAnEndpoint(_ subject: WaitSubject, why: String, elapsed: Duration) -> WaitAnswer {
        var query = WaitQuery()
        var ips: [String] = []
        switch subject {
        case .ip(let ip):
            query.ip = ip
            ips = [ip]
        case .pod(let namespace, let name):
            query.pod = "\(namespace)/\(name)"
        }
        return WaitAnswer(
            query: query, for: .drained, done: true, timedOut: false,
            summary: "not an endpoint of any Service the aggregator knows (\(why)): nothing routes to it",
            endpoint: EndpointView(ips: ips, services: [], state: "removed", change: nil),
            nodes: NodeCounts(total: 0, counted: 0, done: 0, pending: 0, unknown: 0, excluded: 0),
            pending: [], unknown: [], excluded: [], policy: WaitPolicy(unknownNodes: .block),
            elapsedSeconds: elapsed.inSeconds, sinceChangeSeconds: nil)
    }
}
