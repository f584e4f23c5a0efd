import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SettleAPIServer
import SettleAgent
import SettleConvergence
import SettleDataplane
import SettleDataplaneLinux
import SettleKube
import SettleKubeClient
import SettleKubeProxyRules
import SettleModel
import SettleSelection
import SettleTestSupport

/// One Service `shop/web` (ClusterIP 172.30.0.10:80 → 8080) whose slice and kube-proxy rules the
/// tests change step by step, with a real agent following a real kernel and a stand-in API server.
enum WebCluster {
    static let node = "node-a"
    static let servicePort = ServicePortName(namespace: "shop", name: "web", port: "http")

    struct Endpoint {
        var ip: String
        var ready = true
        var serving = true
        var terminating = false
    }

    static func service() -> V1Service {
        V1Service(
            metadata: ObjectMeta(name: "web", namespace: "shop", uid: "uid-svc-web"),
            spec: .init(
                type: .clusterIP, clusterIP: "172.30.0.10", clusterIPs: ["172.30.0.10"], ipFamilies: ["IPv4"],
                ports: [.init(name: "http", port: 80)]))
    }

    /// The slice as the EndpointSlice controller writes it; `resourceVersion` and `generation` are
    /// the API server's to set.
    static func slice(_ endpoints: [Endpoint]) -> V1EndpointSlice {
        V1EndpointSlice(
            metadata: ObjectMeta(
                name: "web-1", namespace: "shop", uid: "uid-web-1", labels: [V1EndpointSlice.serviceNameLabel: "web"]),
            addressType: .ipv4,
            endpoints: endpoints.map {
                .init(
                    addresses: [$0.ip], conditions: .init(ready: $0.ready, serving: $0.serving, terminating: $0.terminating),
                    targetRef: ObjectReference(kind: "Pod", namespace: "shop", name: "pod-\($0.ip)"), nodeName: "node-b")
            },
            ports: [.init(name: "http", protocol: .tcp, port: 8080)])
    }

    /// What kube-proxy programs for `ips`.
    static func proxyPorts(_ ips: [String]) -> [ProxyServicePort] {
        [ProxyServicePort(
            name: servicePort, clusterIPs: [IPAddress("172.30.0.10")!], port: 80,
            clusterEndpoints: ips.map { EndpointAddress(ip: IPAddress($0)!, port: 8080) })]
    }

    static func key(_ ip: String) -> AckKey {
        AckKey(service: "shop/web", port: "http", protocol: .tcp, ip: IPAddress(ip)!, targetPort: 8080)
    }
}

/// The stand-in API server, a scratch namespace with kube-proxy's rules, and an agent in this
/// process serving HTTP on a loopback port.
final class AgentHarness: Sendable {
    let ns: ScratchNamespace
    let server: APIServer
    let runtime: AgentRuntime
    let httpPort: Int
    let writer: NFTablesRuleWriter
    let http: HTTPClient
    let rules: RuleState
    let dataplane: Dataplane

    /// Which of kube-proxy's dataplanes the node runs.
    enum Dataplane: Sendable {
        case nftables(NFTablesRuleWriter.Layout)
        /// iptables through the nft backend; the agent polls it.
        case iptables
        /// IPVS (a kernel with ip_vs: the VM tests), programmed with `ipvsadm` as kube-proxy does:
        /// the ClusterIP on `kube-ipvs0`, one virtual server, a real server per endpoint; the agent polls it.
        case ipvs
    }

    /// What the node's kube-proxy last programmed, so the next change can be a partial sync.
    final class RuleState: @unchecked Sendable {
        private let lock = NSLock()
        private var ips: [String] = []
        func swap(_ new: [String]) -> [String] {
            lock.lock()
            defer { lock.unlock() }
            let old = ips
            ips = new
            return old
        }
    }

    private init(
        ns: ScratchNamespace, server: APIServer, runtime: AgentRuntime, httpPort: Int, writer: NFTablesRuleWriter, rules: RuleState,
        dataplane: Dataplane
    ) {
        self.dataplane = dataplane
        self.ns = ns
        self.server = server
        self.runtime = runtime
        self.httpPort = httpPort
        self.writer = writer
        self.http = HTTPClient.shared
        self.rules = rules
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "test.agent")
        logger.logLevel = .critical
        return logger
    }

    /// Runs `body` with a fresh cluster holding `endpoints` (slice and rules alike) and an agent
    /// that is ready. `configure` adjusts the agent's configuration (mode, buffers, …).
    static func with(
        _ endpoints: [WebCluster.Endpoint], dataplane: Dataplane = .nftables(.endpointChains),
        configure: (inout AgentConfiguration) -> Void = { _ in },
        _ body: (AgentHarness) async throws -> Void
    ) async throws {
        let ns = try ScratchNamespace("settle-agent")
        let layout: NFTablesRuleWriter.Layout
        if case .nftables(let chosen) = dataplane { layout = chosen } else { layout = .endpointChains }
        let writer = NFTablesRuleWriter(layout: layout)
        let rules = RuleState()
        let routedIPs = endpoints.filter { $0.ready }.map(\.ip)
        _ = rules.swap(routedIPs)
        switch dataplane {
        case .nftables: try ns.nft(writer.transaction(for: WebCluster.proxyPorts(routedIPs)))
        case .iptables: try restoreIPTables(ns, routedIPs)
        case .ipvs:
            try ns.exec("/usr/sbin/ip", ["link", "add", "kube-ipvs0", "type", "dummy"])
            try ns.exec("/usr/sbin/ip", ["addr", "add", "172.30.0.10/32", "dev", "kube-ipvs0"])
            try ns.exec("ipvsadm", ["-A", "-t", "172.30.0.10:80", "-s", "rr"])
            for ip in routedIPs { try ns.exec("ipvsadm", ["-a", "-t", "172.30.0.10:80", "-r", "\(ip):8080", "-m", "-w", "1"]) }
        }

        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(1)), logger: quietLogger)
        _ = try await server.state.create(WebCluster.service())
        _ = try await server.state.create(WebCluster.slice(endpoints))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            defer { group.cancelAll() }
            let apiPort = try await server.waitForPort(timeout: TestTime.scaled(.seconds(30)))

            var configuration = AgentConfiguration(nodeName: WebCluster.node)
            switch dataplane {
            case .nftables: configuration.mode = .nftables
            case .iptables: configuration.mode = .iptables
            case .ipvs: configuration.mode = .ipvs
            }
            configuration.netns = ns.name
            configuration.pollInterval = .milliseconds(100)
            configuration.tickInterval = .milliseconds(100)
            configuration.retention = .seconds(60)
            configure(&configuration)
            let client = try KubeClient(configuration: KubeClientConfiguration(server: "http://127.0.0.1:\(apiPort)"), logger: quietLogger)
            let (follower, _) = try await FollowerSelection.follower(for: configuration, logger: quietLogger)
            let runtime = AgentRuntime(
                configuration: configuration,
                http: .init(host: "127.0.0.1", port: 0, heartbeatInterval: .milliseconds(200)),
                client: client, follower: follower, logger: quietLogger)
            group.addTask { try await runtime.run() }
            let httpPort = try await runtime.http.waitForPort(timeout: TestTime.scaled(.seconds(30)))
            let harness = AgentHarness(
                ns: ns, server: server, runtime: runtime, httpPort: httpPort, writer: writer, rules: rules, dataplane: dataplane)
            do {
                try await eventually("the agent to be ready") { await runtime.agent.isReady }
                try await body(harness)
            } catch {
                // The client must be shut down on every path (it traps in deinit otherwise).
                group.cancelAll()
                try? await client.shutdown()
                throw error
            }
            group.cancelAll()
            try await client.shutdown()
        }
    }

    /// Replaces the slice's endpoints through the API (a new generation).
    func setSlice(_ endpoints: [WebCluster.Endpoint]) async throws {
        var slice = try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1")
        slice.endpoints = WebCluster.slice(endpoints).endpoints
        _ = try await server.state.update(slice)
    }

    /// The slice's current generation.
    func sliceGeneration() async throws -> Int64 {
        try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1").metadata.generation ?? 0
    }

    /// Programs the node's rules for `ips` the way kube-proxy does: one partial-sync transaction,
    /// then the deletion of stale chains a sync later.
    func program(_ ips: [String]) throws {
        let old = rules.swap(ips)
        if case .iptables = dataplane {
            try Self.restoreIPTables(ns, ips)
            return
        }
        if case .ipvs = dataplane {
            // kube-proxy's graceful termination of a TCP real server with connections: weight 0
            // first (no new connections); deletion once its connections are gone (``ipvsDelete(_:)``).
            for ip in ips where !old.contains(ip) {
                try ns.exec("ipvsadm", ["-a", "-t", "172.30.0.10:80", "-r", "\(ip):8080", "-m", "-w", "1"])
            }
            for ip in old where !ips.contains(ip) {
                try ns.exec("ipvsadm", ["-e", "-t", "172.30.0.10:80", "-r", "\(ip):8080", "-m", "-w", "0"])
            }
            return
        }
        let sync = writer.partialSync(from: WebCluster.proxyPorts(old), to: WebCluster.proxyPorts(ips))
        try ns.nft(sync.update)
        if let cleanup = sync.cleanup { try ns.nft(cleanup) }
    }

    /// The agent's report must equal a one-shot evaluation: the API's objects through kube-proxy's
    /// selection, against a fresh full read of the kernel.
    func oneShotReport() async throws -> ConvergenceReport {
        let services = try await server.state.get(V1Service.self, namespace: "shop", name: "web")
        let slice = try await server.state.get(V1EndpointSlice.self, namespace: "shop", name: "web-1")
        let desired = DesiredState.compute(services: [services], slices: [slice], node: NodeTopology(name: WebCluster.node))
        let routed: DataplaneSnapshot
        switch dataplane {
        case .nftables: routed = try await NFTablesReader(netns: ns.name).read()
        case .iptables: routed = try await IPTablesReader(netns: ns.name, backend: .nft).read()
        case .ipvs:
            let names = IPVSServiceNames(desired.map { (name: $0.name, protocol: $0.protocol, frontends: $0.frontends) })
            routed = try await IPVSReader(netns: ns.name, fixedNames: names).read()
        }
        return Convergence.evaluate(desired: desired, routed: routed)
    }

    /// Deletes a real server (kube-proxy does once a weight-0 server has no connections left).
    func ipvsDelete(_ ip: String) throws {
        try ns.exec("ipvsadm", ["-d", "-t", "172.30.0.10:80", "-r", "\(ip):8080"])
    }

    /// kube-proxy's iptables rules for `ips`, loaded whole with `iptables-nft-restore` (IPv4 only).
    static func restoreIPTables(_ ns: ScratchNamespace, _ ips: [String]) throws {
        try ns.exec("iptables-nft-restore", [], input: IPTablesRuleWriter(family: .ipv4).restoreInput(for: WebCluster.proxyPorts(ips)))
    }

    /// Waits until the agent's report equals a one-shot evaluation; on timeout, records what differs.
    func expectReportMatchesFreshRead(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + TestTime.scaled(timeout)
        var agent = ConvergenceReport(endpoints: [])
        var fresh = ConvergenceReport(endpoints: [])
        while ContinuousClock.now < deadline {
            fresh = try await oneShotReport()
            agent = await runtime.agent.report()
            if agent == fresh { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        let onlyAgent = Set(agent.endpoints).subtracting(fresh.endpoints).sorted().prefix(5)
        let onlyFresh = Set(fresh.endpoints).subtracting(agent.endpoints).sorted().prefix(5)
        throw TimedOut(what: "the agent's report to match a fresh read: agent-only \(onlyAgent.map { "\($0.key) \($0.state) \($0.reason)" }), fresh-only \(onlyFresh.map { "\($0.key) \($0.state) \($0.reason)" }) (\(agent.endpoints.count) vs \(fresh.endpoints.count))")
    }

    func get(_ path: String) async throws -> (status: Int, body: String) {
        let request = HTTPClientRequest(url: "http://127.0.0.1:\(httpPort)\(path)")
        let response = try await http.execute(request, timeout: .seconds(Int64(10 * TestTime.scale)))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: body))
    }
}

extension AckStreamClient {
    /// Waits for the ack of `key` to satisfy `condition`; returns the ack.
    func wait(for key: AckKey, _ condition: @escaping @Sendable (Ack) -> Bool) async throws -> Ack {
        try await wait(for: key, timeout: TestTime.scaled(.seconds(30)), condition).ack
    }
}
