import ArgumentParser
import Foundation
import Logging
import SettleAggregation
import SettleAggregator
import SettleKubeClient

extension UnknownNodePolicy: ExpressibleByArgument {}

/// `settle aggregator`: the Deployment that answers deleters.
struct AggregatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregator",
        abstract: "Runs the aggregator: collects every agent's acknowledgements and answers \"is this endpoint drained on every node?\"",
        discussion: """
            The aggregator finds the agents (their pods, by label, or --agent for a fixed list), reads \
            each agent's /v1/acks stream (resuming after breaks), watches EndpointSlices to know at which \
            generation each endpoint changed, and Nodes for eligibility. It serves, read-only (docs/api.md):
              /v1/endpoints/{ip}?for=drained|programmed&wait=30s   the preStop question (long-poll)
              /v1/pods/{namespace}/{name}?for=…&wait=…             the same for a pod's IPs
              /v1/services/{namespace}/{name}                      per-node convergence of a service
              /v1/nodes                                            per-node health, mode, lag
              /healthz /readyz /metrics

            Unknown nodes (agent unreachable, silent past --silence-timeout, or not ready) block waits \
            by default (--unknown-nodes block): a false "drained" sends new connections to a dying pod, \
            while blocking costs at most the waiter's own timeout — today's `sleep`. Every answer names them.

            Every replica holds a complete view; run two. It needs get/list/watch on endpointslices, \
            nodes and pods. SIGTERM answers open waits as they stand and stops.

            Example (a scratch cluster whose API server needs no credentials, two agents):
              settle aggregator --server http://127.0.0.1:8080 --listen 127.0.0.1:9468 \\
                --agent node-a=http://127.0.0.1:9467 --agent node-b=http://127.0.0.1:9470
            """)

    @Option(name: .customLong("agent"), help: ArgumentHelp("An agent to read: NODE=URL (repeatable). Disables discovery unless --agent-namespace is given.", valueName: "node=url"))
    var agents: [String] = []

    @Option(help: "Namespace of the agent pods to discover. (default: this pod's namespace, from POD_NAMESPACE or the service account; none with --agent)")
    var agentNamespace: String?

    @Option(help: "Label selector of the agent pods.")
    var agentSelector = "app.kubernetes.io/name=settle-agent"

    @Option(help: "Port of the agents' HTTP API.")
    var agentPort = 9467

    @Option(help: "Whether nodes whose agent cannot be heard keep waits from being done: block or ignore.")
    var unknownNodes: UnknownNodePolicy = .block

    @Option(help: "An agent stream silent this long makes its node unknown (and is reconnected).")
    var silenceTimeout = DurationArgument("15s")

    @Option(help: "A Node NotReady this long is excluded from waits (named in every answer).")
    var notReadyGrace = DurationArgument("5m")

    @Option(help: "Most waits open at once; more get 429.")
    var maxWaiters = 10_000

    @Option(help: "Longest wait= accepted; longer gets 400.")
    var maxWait = DurationArgument("5m")

    @Option(help: "How long endpoints that left every EndpointSlice, and their pods, are remembered.")
    var remember = DurationArgument("10m")

    @Option(help: "A file with the bearer token to present to agents, re-read on every connection (default: \(AggregatorCommand.projectedTokenPath) when it exists, the token daemonset/ projects for the agents' audience; none otherwise).")
    var agentTokenFile: String?

    static let projectedTokenPath = "/var/run/secrets/settle/token"

    @Flag(help: "Do not watch Node objects (no NotReady or deletion exclusions).")
    var noNodeWatch = false

    @OptionGroup var api: APIServerOptions

    @Option(help: "Address and port the HTTP server listens on (port 0 picks one and logs it).")
    var listen = "0.0.0.0:\(SettleAggregation.defaultPort)"

    @Option(help: "Log format: json or text.")
    var logFormat: LogFormat = .json

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard AgentCommand.hostPort(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, e.g. 0.0.0.0:9468") }
        guard (1...1_000_000).contains(maxWaiters) else { throw ValidationError("--max-waiters must be 1…1000000") }
        guard (1...65535).contains(agentPort) else { throw ValidationError("--agent-port must be 1…65535") }
        guard silenceTimeout.duration >= .milliseconds(100) else { throw ValidationError("--silence-timeout must be at least 100ms") }
        guard maxWait.duration >= .seconds(1) else { throw ValidationError("--max-wait must be at least 1s") }
        _ = try staticAgents()
    }

    func staticAgents() throws -> [String: String] {
        var result: [String: String] = [:]
        for entry in agents {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex,
                let url = URL(string: String(entry[entry.index(after: equals)...])), let scheme = url.scheme,
                ["http", "https"].contains(scheme), url.host != nil
            else {
                throw ValidationError("--agent must be NODE=URL, e.g. node-a=http://10.0.0.1:9467, not \(entry.debugDescription)")
            }
            let node = String(entry[..<equals])
            guard result[node] == nil else { throw ValidationError("--agent names node \(node) twice") }
            var text = String(entry[entry.index(after: equals)...])
            while text.hasSuffix("/") { text.removeLast() }
            result[node] = text
        }
        return result
    }

    func run() async throws {
        Logs.bootstrap(format: logFormat, level: logLevel)
        let logger = Logger(label: "settle.aggregator")
        let environment = ProcessInfo.processInfo.environment
        let statics = try staticAgents()
        var namespace = agentNamespace
        if namespace == nil, statics.isEmpty {
            namespace = environment["POD_NAMESPACE"]
                ?? (try? String(contentsOfFile: "/var/run/secrets/kubernetes.io/serviceaccount/namespace", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard namespace != nil else {
                throw Terminal.failure("no agents to read: pass --agent NODE=URL, or --agent-namespace to discover agent pods")
            }
        }
        var configuration = AggregatorConfiguration(
            staticAgents: statics, agentNamespace: namespace, agentSelector: agentSelector, agentPort: agentPort,
            watchNodes: !noNodeWatch, unknownNodes: unknownNodes, silenceTimeout: silenceTimeout.duration,
            notReadyGrace: notReadyGrace.duration, maxWaiters: maxWaiters, maxWait: maxWait.duration, remember: remember.duration)
        configuration.agentTokenFile =
            agentTokenFile ?? (FileManager.default.fileExists(atPath: Self.projectedTokenPath) ? Self.projectedTokenPath : nil)
        if let file = configuration.agentTokenFile, !FileManager.default.isReadableFile(atPath: file) {
            throw Terminal.failure("--agent-token-file \(file) cannot be read")
        }

        let clientConfiguration = try api.clientConfiguration(environment: environment)
        let client: KubeClient
        do {
            client = try KubeClient(configuration: clientConfiguration, logger: logger)
        } catch {
            throw Terminal.failure("cannot create the API client: \(error)")
        }
        logger.info(
            "starting",
            metadata: [
                "server": "\(clientConfiguration.server)", "listen": "\(listen)", "unknownNodes": "\(unknownNodes.rawValue)",
                "agents": "\(statics.isEmpty ? "pods in \(namespace ?? "?") matching \(agentSelector)" : "\(statics.count) static")",
                "agentToken": "\(configuration.agentTokenFile ?? "none: agents with --stream-auth tokenreview will refuse this aggregator")",
            ])
        let (host, port) = AgentCommand.hostPort(listen)!
        let runtime = AggregatorRuntime(
            configuration: configuration, http: .init(host: host, port: port), client: client, version: SettleVersion.current,
            logger: logger)
        do {
            try await runtime.runUntilSignalled(logger: logger)
        } catch {
            try? await client.shutdown()
            throw Terminal.failure("aggregator stopped: \(error)")
        }
        try? await client.shutdown()
        logger.info("stopped")
    }
}
