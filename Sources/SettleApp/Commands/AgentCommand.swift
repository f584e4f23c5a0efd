import ArgumentParser
import Foundation
import Logging
import SettleAgent
import SettleKubeClient

extension AgentConfiguration.Mode: ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `settle agent`: the DaemonSet daemon.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Runs the node agent: follows this node's dataplane and publishes per-endpoint acknowledgements.",
        discussion: """
            The agent watches Services, EndpointSlices and its own Node as kube-proxy does, follows the \
            node's kube-proxy rules (nftables through netlink change events; iptables and IPVS by polling), and \
            serves, read-only:
              /healthz           liveness
              /readyz            200 once the first lists and the first dataplane read are done
              /metrics           Prometheus metrics (docs/metrics.md)
              /v1/acks?since=N   the acknowledgement stream the aggregator consumes (docs/agent-api.md)
              /v1/state          endpoints that are not converged, for people

            It never writes to the dataplane or the API. It needs CAP_NET_ADMIN to read rules, and \
            get/list/watch on services, endpointslices and nodes. SIGTERM stops it gracefully.

            Example (a scratch cluster whose API server needs no credentials):
              settle agent --node node-a --server http://127.0.0.1:8080 --listen 127.0.0.1:9467
            """)

    @Option(help: "The node this agent speaks for. (default: $NODE_NAME)")
    var node: String?

    @Option(help: "Dataplane to follow: auto, nftables, iptables or ipvs.")
    var mode: AgentConfiguration.Mode = .auto

    @Option(help: "Read the dataplane of this named network namespace (ip netns) instead of the agent's own.")
    var netns: String?

    @OptionGroup var api: APIServerOptions

    @Option(help: "Address and port the HTTP server listens on (port 0 picks one and logs it).")
    var listen: String = "0.0.0.0:\(SettleAgent.defaultPort)"

    @Option(help: "How often modes without change events (iptables, IPVS) are read.")
    var pollInterval = DurationArgument("2s")

    @Option(help: "How often the nftables mirror is replaced by a full read.")
    var resyncInterval = DurationArgument("10m")

    @Option(help: "Receive buffer of the netlink event socket, in bytes; a bulk change beyond it costs a full resync.")
    var receiveBuffer: Int = 16 << 20

    @Option(help: "How long a converged transition stays in the ack stream.")
    var retention = DurationArgument("2m")

    @Option(help: "Ack stream heartbeat interval (also how often retention is applied).")
    var heartbeat = DurationArgument("5s")

    @Option(help: "Most /v1/acks streams served at once; more get 429.")
    var maxStreamClients: Int = 64

    @Option(help: "Who may read /v1/acks and /v1/state: tokenreview (a bearer token the API server authenticates for --stream-audience, of a --stream-user), none (anyone who can connect), or auto (tokenreview in a cluster, none elsewhere).")
    var streamAuth: StreamAuthChoice = .auto

    @Option(help: "The audience the readers' tokens must be issued for (the aggregator's projected token).")
    var streamAudience = StreamAuthenticator.defaultAudience

    @Option(name: .customLong("stream-user"), help: ArgumentHelp("A user allowed to read the stream (repeatable). (default: \(StreamAuthenticator.defaultUser))", valueName: "user"))
    var streamUsers: [String] = []

    @Option(help: "Log format: json or text.")
    var logFormat: LogFormat = .json

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard receiveBuffer >= 4096 else { throw ValidationError("--receive-buffer must be at least 4096 bytes") }
        guard (1...100_000).contains(maxStreamClients) else { throw ValidationError("--max-stream-clients must be 1…100000") }
        guard pollInterval.duration >= .milliseconds(100) else { throw ValidationError("--poll-interval must be at least 100ms") }
        guard heartbeat.duration >= .milliseconds(100) else { throw ValidationError("--heartbeat must be at least 100ms") }
        guard Self.hostPort(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, e.g. 0.0.0.0:9467") }
    }

    func run() async throws {
        Logs.bootstrap(format: logFormat, level: logLevel)
        var logger = Logger(label: "settle.agent")
        let environment = ProcessInfo.processInfo.environment
        guard let nodeName = node ?? environment["NODE_NAME"], !nodeName.isEmpty else {
            throw Terminal.failure("no node name: pass --node NAME or set NODE_NAME (the DaemonSet sets it from spec.nodeName)")
        }
        logger[metadataKey: "node"] = "\(nodeName)"

        var configuration = AgentConfiguration(nodeName: nodeName)
        configuration.mode = mode
        configuration.netns = netns
        configuration.pollInterval = pollInterval.duration
        configuration.resyncInterval = resyncInterval.duration
        configuration.receiveBufferBytes = receiveBuffer
        configuration.retention = retention.duration
        configuration.tickInterval = min(heartbeat.duration, .seconds(1))
        let inCluster = environment["KUBERNETES_SERVICE_HOST"] != nil
        if streamAuth == .tokenreview || (streamAuth == .auto && inCluster) {
            configuration.streamAuthentication = .init(
                audience: streamAudience, allowedUsers: Set(streamUsers.isEmpty ? [StreamAuthenticator.defaultUser] : streamUsers))
        }

        let clientConfiguration = try api.clientConfiguration(environment: environment)
        let (follower, note): (any DataplaneFollower, String)
        do {
            (follower, note) = try await FollowerSelection.follower(for: configuration, logger: logger)
        } catch {
            throw Terminal.failure("\(error)")
        }
        logger.info(
            "starting",
            metadata: [
                "mode": "\(note)", "server": "\(clientConfiguration.server)", "listen": "\(listen)",
                "streamAuth": "\(configuration.streamAuthentication.map { "tokenreview (audience \($0.audience), users \($0.allowedUsers.sorted().joined(separator: ",")))" } ?? "none: anyone who can connect reads the ack stream")",
            ])

        let client: KubeClient
        do {
            client = try KubeClient(configuration: clientConfiguration, logger: logger)
        } catch {
            throw Terminal.failure("cannot create the API client: \(error)")
        }
        let (host, port) = Self.hostPort(listen)!
        let runtime = AgentRuntime(
            configuration: configuration,
            http: .init(host: host, port: port, maxStreamClients: maxStreamClients, heartbeatInterval: heartbeat.duration),
            client: client, follower: follower, version: SettleVersion.current, logger: logger)
        do {
            try await runtime.runUntilSignalled(logger: logger)
        } catch {
            try? await client.shutdown()
            throw Terminal.failure("agent stopped: \(error)")
        }
        try? await client.shutdown()
        logger.info("stopped")
    }

    /// `HOST:PORT` or `[V6]:PORT`.
    static func hostPort(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }
}

/// `settle agent --stream-auth`.
enum StreamAuthChoice: String, ExpressibleByArgument, CaseIterable, Sendable {
    case auto, tokenreview, none
}
