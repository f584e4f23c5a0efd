public import Foundation
import Logging
import SettleAPIServer
import SettleKube
import SettleKubeClient
import SettleKubeProxyRules

/// What a running lab reports as it goes, for a progress display.
public enum LabEvent: Sendable {
    /// A set-up or tear-down step.
    case step(String)
    /// Deletion `number` of `total` (all strategies) begins.
    case deleting(strategy: String, number: Int, total: Int, pod: String)
    /// While a deletion is under way: how many nodes have dropped the pod.
    case waiting(dropped: Int, nodes: Int, elapsedMilliseconds: Int64)
    /// A deletion is over.
    case deleted(LabDeletion)
}

/// A whole lab: builds the cluster, runs the deletions, tears everything down, and reports.
public struct LabRun: Sendable {
    public let configuration: LabConfiguration
    let onEvent: @Sendable (LabEvent) -> Void

    public init(configuration: LabConfiguration, onEvent: @escaping @Sendable (LabEvent) -> Void = { _ in }) {
        self.configuration = configuration
        self.onEvent = onEvent
    }

    /// Runs the lab. Every namespace and process it made is removed on every way out, cancellation
    /// (Ctrl-C) included.
    public func run() async throws -> LabReport {
        if let problem = configuration.problem { throw LabError(problem) }
        guard geteuid() == 0 else {
            throw LabError("settle lab needs root: it creates network namespaces and loads nftables rules (try: sudo settle lab)")
        }
        for tool in [LabNetwork.ipTool, "/usr/sbin/nft"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw LabError("settle lab needs \(tool) (Debian packages iproute2 and nftables)")
        }
        let logs = configuration.output.appendingPathComponent("logs")
        do {
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        } catch {
            throw LabError("cannot create \(logs.path): \(error.localizedDescription)")
        }
        let stale = await LabNetwork.sweepStale()
        if !stale.isEmpty { onEvent(.step("removed \(stale.count) namespaces left by an earlier lab that was killed")) }

        let network = LabNetwork()
        let children = LabChildren(logDirectory: logs, settle: configuration.settle)
        var logger = Logger(label: "settle.lab.apiserver")
        logger.logLevel = .critical
        // The EndpointSlice controller moves a relabelled pod out of the slice (strategy `drain`).
        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(1), endpointSliceController: true), logger: logger)
        let cleanup = { @Sendable in
            // A task of its own: the lab's task may be cancelled, and tear-down must still wait for processes.
            await Task {
                await children.stopAll()
                await network.destroy()
            }.value
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var session: LabSession?
            do {
                let apiPort = try await server.waitForPort()
                let running = try LabSession(
                    configuration: configuration, network: network, children: children, state: server.state,
                    apiURL: "http://127.0.0.1:\(apiPort)", onEvent: onEvent)
                session = running
                let report = try await running.run()
                onEvent(.step("tearing down"))
                await running.stop()
                await cleanup()
                group.cancelAll()
                return report
            } catch {
                onEvent(.step("tearing down"))
                await session?.stop()
                await cleanup()
                group.cancelAll()
                throw error
            }
        }
    }
}

/// One lab's cluster while it runs.
actor LabSession {
    let configuration: LabConfiguration
    let network: LabNetwork
    let children: LabChildren
    let state: APIServerState
    let apiURL: String
    let onEvent: @Sendable (LabEvent) -> Void

    static let aggregatorUser = "system:serviceaccount:settle-system:settle-aggregator"

    private var proxies: [LabKubeProxy] = []
    private var nodeNames: [String] = []
    private var pods: [(pod: LabPod, phase: LabPod.Phase, backend: LabChild)] = []
    private var nextPod = 1
    private var aggregatorURL = ""
    private var clients: [(node: String, child: LabChild)] = []
    /// The lab's kube-proxies watch the slice through the API, as kube-proxies do.
    private let client: KubeClient
    /// The kube-proxies' client and watch log only what is critical (the lab's output is its report).
    private let logger: Logger
    private var follower: Task<Void, Never>?
    /// The slice's resourceVersion the kube-proxies were last handed.
    private var observedVersion: String?

    init(
        configuration: LabConfiguration, network: LabNetwork, children: LabChildren, state: APIServerState, apiURL: String,
        onEvent: @escaping @Sendable (LabEvent) -> Void
    ) throws {
        self.configuration = configuration
        self.network = network
        self.children = children
        self.state = state
        self.apiURL = apiURL
        self.onEvent = onEvent
        var logger = Logger(label: "settle.lab.kube-proxy")
        logger.logLevel = .critical
        self.logger = logger
        client = try KubeClient(configuration: KubeClientConfiguration(server: apiURL), logger: logger)
    }

    /// Stops following the API and closes the client (which must be closed before it goes).
    func stop() async {
        follower?.cancel()
        await follower?.value
        follower = nil
        let client = client
        await Task { try? await client.shutdown() }.value
    }

    func run() async throws -> LabReport {
        try await build()
        let total = configuration.strategies.count * configuration.deletions
        var deletions: [LabDeletion] = []
        for strategy in configuration.strategies {
            for _ in 0..<configuration.deletions {
                try Task.checkCancellation()
                let deletion = try await delete(strategy: strategy, number: deletions.count + 1, total: total)
                deletions.append(deletion)
                onEvent(.deleted(deletion))
            }
        }
        // Connections started after the last SIGTERM still count for it.
        try await Task.sleep(for: .seconds(1))
        for client in clients { client.child.signal(SIGTERM) }
        var attempts: [LabAttribution.Attempt] = []
        for client in clients {
            _ = await client.child.waitForExit(timeout: .seconds(3))
            attempts += client.child.lines().compactMap { LabAttribution.Attempt(node: client.node, line: $0) }
        }
        let outside = LabAttribution.attribute(attempts, to: &deletions)
        // Now the counts are in: the finished records carry them.
        return LabReport(
            nodes: nodeNames, straggler: configuration.stragglerNode, lag: configuration.lag.description, ratePerNode: configuration.rate,
            deletions: deletions, failedOutside: outside)
    }

    // MARK: - Building

    private func build() async throws {
        let n = configuration.nodes
        onEvent(.step("creating \(n) node and \(configuration.pods) pod namespaces on a bridge"))
        try await network.create()
        for i in 1...n {
            try await network.addNode(i)
            nodeNames.append("node-\(i)")
        }
        _ = try await state.create(LabCluster.service())
        for i in 1...n { _ = try await state.create(LabCluster.node(nodeNames[i - 1], ip: LabNetwork.nodeIP(i))) }
        for _ in 0..<configuration.pods { try await addPod() }
        let slice = try await state.create(currentSlice())

        onEvent(.step("programming each node's kube-proxy rules (nftables)"))
        for i in 1...n {
            let lag =
                nodeNames[i - 1] == configuration.stragglerNode
                ? LagDistribution(lower: configuration.straggler, upper: configuration.straggler) : configuration.lag
            let proxy = LabKubeProxy(
                node: nodeNames[i - 1], namespace: network.nodeNamespace(i), nodeIP: LabNetwork.nodeIP(i), lag: lag,
                seed: configuration.seed &* 1000 &+ UInt64(i))
            try await proxy.programNow(LabCluster.proxyPorts(service: LabCluster.service(), slice: slice, node: nodeNames[i - 1]))
            proxies.append(proxy)
        }
        let reflector = Reflector<V1EndpointSlice>(
            client: client, selection: ResourceSelection(namespace: LabCluster.namespace), logger: logger)
        follower = Task.detached { [self] in await reflector.run { event in await self.observe(event) } }

        onEvent(.step("starting \(n) agents and the aggregator"))
        // As deployed: agents stream only to the aggregator's token, which the API server reviews.
        let token = "lab-aggregator-\(UInt64.random(in: 0...UInt64.max))"
        let tokenFile = children.logDirectory.appendingPathComponent("aggregator-token")
        do {
            try token.write(to: tokenFile, atomically: true, encoding: .utf8)
        } catch {
            throw LabError("cannot write \(tokenFile.path): \(error.localizedDescription)")
        }
        await state.setTokenIdentities([token: TokenIdentity(username: Self.aggregatorUser, audiences: ["settle-agent"])])
        var agentURLs: [String] = []
        for i in 1...n {
            let port = try LabPorts.free()
            agentURLs.append("\(nodeNames[i - 1])=http://127.0.0.1:\(port)")
            _ = try await children.start(
                "agent-\(nodeNames[i - 1])",
                [
                    "agent", "--node", nodeNames[i - 1], "--netns", network.nodeNamespace(i), "--mode", "nftables", "--server", apiURL,
                    "--listen", "127.0.0.1:\(port)", "--stream-auth", "tokenreview", "--stream-user", Self.aggregatorUser,
                ])
        }
        let aggregatorPort = try LabPorts.free()
        aggregatorURL = "http://127.0.0.1:\(aggregatorPort)"
        let aggregator = try await children.start(
            "aggregator",
            ["aggregator", "--server", apiURL, "--listen", "127.0.0.1:\(aggregatorPort)", "--agent-token-file", tokenFile.path]
                + agentURLs.flatMap { ["--agent", $0] })

        onEvent(.step("waiting until every node's agent reports every pod programmed"))
        for pod in pods {
            let wait = try await children.start(
                "ready-\(pod.pod.name)", ["wait", "--ip", pod.pod.ip, "--for", "programmed", "--timeout", "90s", "--aggregator", aggregatorURL])
            guard await wait.waitForExit(timeout: .seconds(100)) == 0 else {
                throw LabError(
                    "the cluster did not come up: \(pod.pod.ip) never reported programmed on every node\n\(wait.tail())\naggregator: \(aggregator.tail(3))")
            }
        }

        onEvent(.step("starting each node's client (\(configuration.rate) new connections a second to \(LabCluster.clusterIP):\(LabCluster.port))"))
        for i in 1...n {
            let child = try await children.start(
                "client-\(nodeNames[i - 1])",
                [
                    "lab-client", "--lab", network.prefix, "--target", "\(LabCluster.clusterIP):\(LabCluster.port)", "--rate", "\(configuration.rate)",
                    "--timeout", configuration.connectTimeout.labText,
                ], in: network.nodeNamespace(i))
            clients.append((nodeNames[i - 1], child))
        }
        for client in clients {
            try await until("\(client.node)'s connections to the ClusterIP to succeed", timeout: .seconds(20), detail: { client.child.tail() }) {
                client.child.lines().contains { $0.split(separator: " ").dropFirst().first == "ok" }
            }
        }
    }

    /// Creates the next pod: its namespace, its server, its API object; it is in the slice as ready.
    private func addPod() async throws {
        let pod = LabPod(index: nextPod, node: nodeNames[(nextPod - 1) % nodeNames.count])
        nextPod += 1
        try await network.addPod(pod.index)
        let backend = try await children.start(
            "backend-\(pod.name)", ["lab-backend", "--lab", network.prefix, "--port", "\(LabCluster.targetPort)", "--name", pod.name], in: network.podNamespace(pod.index))
        try await until("\(pod.name)'s server to listen", timeout: .seconds(10), detail: { backend.tail() }) {
            backend.lines().contains { $0.hasPrefix("listening") }
        }
        pods.append((pod, .ready, backend))
        // Listening first: the slice controller makes a running pod an endpoint at once.
        _ = try await state.create(LabCluster.pod(pod))
    }

    private func currentSlice() -> V1EndpointSlice { LabCluster.slice(pods.map { ($0.pod, $0.phase) }) }

    /// Writes the slice as the pods now are (as the EndpointSlice controller would).
    private func publish() async throws {
        var slice = try await state.get(V1EndpointSlice.self, namespace: LabCluster.namespace, name: LabCluster.sliceName)
        slice.endpoints = currentSlice().endpoints
        _ = try await state.update(slice)
    }

    /// A slice event from the watch: every node's kube-proxy gets its desired state after it.
    private func observe(_ event: ReflectorEvent<V1EndpointSlice>) async {
        let slice: V1EndpointSlice
        switch event {
        case .replaced(let slices, _):
            guard let found = slices.first(where: { $0.metadata.name == LabCluster.sliceName }) else { return }
            slice = found
        case .added(let changed), .modified(let changed):
            guard changed.metadata.name == LabCluster.sliceName else { return }
            slice = changed
        case .deleted, .bookmark:
            return
        }
        let version = slice.metadata.resourceVersion ?? ""
        for (proxy, node) in zip(proxies, nodeNames) {
            await proxy.submit(version: version, ports: LabCluster.proxyPorts(service: LabCluster.service(), slice: slice, node: node))
        }
        observedVersion = version
    }

    /// Whether every kube-proxy has programmed the slice as the API now holds it.
    private func caughtUp() async throws -> Bool {
        let current = try await state.get(V1EndpointSlice.self, namespace: LabCluster.namespace, name: LabCluster.sliceName)
        guard current.metadata.resourceVersion == observedVersion else { return false }
        for proxy in proxies where await !proxy.isIdle { return false }
        return true
    }

    // MARK: - One deletion

    private func delete(strategy: LabStrategy, number: Int, total: Int) async throws -> LabDeletion {
        let victim = pods[0]
        onEvent(.deleting(strategy: strategy.description, number: number, total: total, pod: victim.pod.name))
        // A rolling update: the replacement is ready as the old pod starts terminating.
        try await addPod()
        let deleted = LabClock.nowMilliseconds()
        if strategy != .drain {
            pods[0].phase = .terminating
            try await publish()
        }
        let victimIP = victim.pod.ip
        let progress = Task { [proxies] in
            while !Task.isCancelled {
                var dropped = 0
                for proxy in proxies where await proxy.drop(of: victimIP, seenSince: deleted) != nil { dropped += 1 }
                onEvent(.waiting(dropped: dropped, nodes: proxies.count, elapsedMilliseconds: LabClock.nowMilliseconds() - deleted))
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { progress.cancel() }

        var waitStatus: Int32?
        switch strategy {
        case .none:
            break
        case .sleep(let duration):
            try await Task.sleep(for: duration)
        case .settle:
            let hook = try await children.start(
                "prestop-\(number)-\(victim.pod.name)",
                [
                    "wait", "--ip", victim.pod.ip, "--for", "drained", "--timeout", configuration.waitTimeout.labText, "--aggregator",
                    aggregatorURL,
                ])
            waitStatus = await hook.waitForExit(timeout: configuration.waitTimeout + .seconds(10))
            if waitStatus == nil { hook.signal(SIGKILL) }
        case .drain:
            // Relabels the pod out of the Service (the slice controller drops it), waits, deletes it.
            let drain = try await children.start(
                "drain-\(number)-\(victim.pod.name)",
                [
                    "drain", "pod/\(victim.pod.name)", "--namespace", LabCluster.namespace, "--server", apiURL, "--aggregator", aggregatorURL,
                    "--timeout", configuration.waitTimeout.labText, "--grace-period", "0",
                ])
            waitStatus = await drain.waitForExit(timeout: configuration.waitTimeout + .seconds(10))
            if waitStatus == nil { drain.signal(SIGKILL) }
        }
        let sigterm = LabClock.nowMilliseconds()
        victim.backend.signal(SIGTERM)
        if await victim.backend.waitForExit(timeout: .seconds(5)) == nil { victim.backend.signal(SIGKILL) }
        progress.cancel()

        // The pod is gone: the EndpointSlice controller removes its endpoint.
        pods.removeFirst()
        _ = try? await state.delete(V1Pod.self, namespace: LabCluster.namespace, name: victim.pod.name)
        try await publish()
        try await until("every node's kube-proxy to catch up", timeout: .seconds(120), detail: { "" }) {
            (try? await self.caughtUp()) ?? false
        }
        for proxy in proxies {
            if let failure = await proxy.failure { throw LabError(failure) }
        }
        await network.removePod(victim.pod.index)
        await children.reap()

        var nodes: [LabDeletion.NodeDrop] = []
        for proxy in proxies {
            guard let programming = await proxy.drop(of: victimIP, seenSince: deleted) else { continue }
            nodes.append(
                .init(
                    node: proxy.node, lagMilliseconds: programming.lag.milliseconds, started: programming.started,
                    finished: programming.finished))
        }
        return LabDeletion(
            strategy: strategy.description, pod: victim.pod.name, ip: victim.pod.ip, deleted: deleted, sigterm: sigterm, waitStatus: waitStatus,
            nodes: nodes)
    }

    /// Polls `condition` until it holds; throws naming `what` (and `detail`) after `timeout`.
    private func until(
        _ what: String, timeout: Duration, detail: () -> String, _ condition: () async -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !(await condition()) {
            guard ContinuousClock.now < deadline else {
                let more = detail()
                throw LabError("timed out after \(timeout) waiting for \(what)" + (more.isEmpty ? "" : ":\n\(more)"))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Free loopback TCP ports for the lab's agents and aggregator.
enum LabPorts {
    static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LabError("cannot open a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw LabError("cannot find a free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
