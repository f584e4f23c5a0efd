import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SettleAPIServer
import SettleAgent
import SettleConvergence
import SettleDataplaneLinux
import SettleKube
import SettleKubeProxyRules
import SettleModel

/// `settle bench agent`: how fast the agent acknowledges one endpoint change at scale, and what it
/// costs in memory.
///
/// Loads `services × endpoints` kube-proxy rules into a scratch namespace and the matching
/// Services and EndpointSlices into an in-process stand-in API server, then runs the real agent
/// binary (`settle agent`) against both. Each measured change is the preStop flow: the slice marks
/// one endpoint terminating (the agent acks `stale`), then kube-proxy's partial sync removes it
/// with one `nft -f`; the time from the kernel's commit (its `NEWGEN` event, read by a watcher
/// thread in this process) to the `drained` ack arriving over the agent's `/v1/acks` stream is the
/// latency. The endpoint is then restored (ready in the slice,
/// programmed again: the arrival latency). The baseline, measured in the same run, is one full read
/// of the same ruleset (`settle dataplane`) and the `nft -f` of the change alone.
extension NFTablesRuleWriter.Layout: ExpressibleByArgument {}

struct AgentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Measure the agent: rule change → ack latency at scale, and its memory.")

    @Option(help: "Number of services.")
    var services = 10_000

    @Option(help: "Endpoints per service.")
    var endpoints = 15

    @Option(help: "Endpoint changes to measure (each: removal, then restore).")
    var changes = 100

    @Option(help: "nftables layout kube-proxy writes: endpointChains, inlineMap, directSingle.")
    var layout = NFTablesRuleWriter.Layout.endpointChains

    @Option(help: "Seed for choosing the endpoints to change.")
    var seed: UInt64 = 1

    @Option(help: "Also write the report (Markdown) to this file.")
    var out: String?

    @Option(help: "Keep the agent's log (JSON lines) in this file.")
    var agentLog: String?

    @Option(help: "The agent's --log-level (debug logs each dataplane change's stages).")
    var agentLogLevel = "warning"

    @Option(help: "Run the measured `nft -f` commands at this nice level (0–19), to see how much of the delivery time is CPU shared with nft.")
    var nftNice = 0

    func validate() throws {
        guard (0...19).contains(nftNice) else { throw ValidationError("--nft-nice must be 0…19") }
        guard services > 0, endpoints > 1, changes > 0 else {
            throw ValidationError("--services and --changes must be positive, --endpoints at least 2")
        }
    }

    func run() async throws {
        guard geteuid() == 0 else { throw Terminal.failure("settle bench needs root (it creates a network namespace)") }
        let settle = try DataplaneBench.selfPath()
        let ports = BenchServices.make(count: services, endpoints: endpoints)
        let objects = BenchServices.objects(for: ports)
        let ns = try BenchNamespace()
        defer { ns.remove() }
        let writer = NFTablesRuleWriter(layout: layout)

        Terminal.note("loading \(services) services × \(endpoints) endpoints (\(layout.rawValue)) …")
        for batch in writer.batches(for: ports) { try ns.load(batch, with: ["nft", "-f"]) }
        let fullRead = try ProcessMeasurement.run(settle, ["dataplane", "--netns", ns.name, "--format", "json"])
        guard fullRead.status == 0 else { throw BenchError("settle dataplane exited with status \(fullRead.status)") }

        var logger = Logger(label: "settle.bench.apiserver")
        logger.logLevel = .error
        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(5)), logger: logger)
        for service in objects.services { _ = try await server.state.create(service) }
        for slice in objects.slices { _ = try await server.state.create(slice) }

        let report = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            defer { group.cancelAll() }
            let apiPort = try await server.waitForPort()
            return try await measure(
                settle: settle, ns: ns, apiPort: apiPort, server: server, ports: ports, writer: writer, fullRead: fullRead)
        }
        print(report, terminator: "")
        if let out { try report.write(toFile: out, atomically: true, encoding: .utf8) }
    }

    private func measure(
        settle: String, ns: BenchNamespace, apiPort: Int, server: APIServer, ports: [ProxyServicePort], writer: NFTablesRuleWriter,
        fullRead: ProcessMeasurement
    ) async throws -> String {
        let agentPort = try Self.freePort()
        let log = agentLog.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("settle-bench-agent-\(getpid()).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: settle)
        agent.arguments = [
            "agent", "--node", "bench-node", "--server", "http://127.0.0.1:\(apiPort)", "--netns", ns.name, "--mode", "nftables",
            "--listen", "127.0.0.1:\(agentPort)", "--log-level", agentLogLevel,
        ]
        agent.standardError = try FileHandle(forWritingTo: log)
        agent.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try agent.run()
        defer {
            if agent.isRunning { agent.terminate() }
            if agentLog == nil { try? FileManager.default.removeItem(at: log) }
        }

        let http = HTTPClient.shared
        let base = "http://127.0.0.1:\(agentPort)"
        let deadline = ContinuousClock.now + .seconds(1800)
        while true {
            guard agent.isRunning else {
                throw BenchError("the agent exited during start-up: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            if let response = try? await http.execute(HTTPClientRequest(url: "\(base)/readyz"), timeout: .seconds(5)), response.status == .ok {
                break
            }
            guard ContinuousClock.now < deadline else { throw BenchError("the agent did not become ready in 30 minutes") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let startup = ContinuousClock.now - started
        let readyRSS = Self.memory(of: agent.processIdentifier)
        Terminal.note("agent ready after \(Self.seconds(startup)) s; measuring \(changes) changes …")

        let nft = nftNice == 0 ? ["nft", "-f"] : ["nice", "-n", "\(nftNice)", "nft", "-f"]
        let commits = try NFTablesCommitWatcher(netns: ns.name)
        defer { commits.stop() }
        let acks = AckStreamClient()
        await acks.start(url: "\(base)/v1/acks", client: http)
        var random = SplitMix64(seed: seed)
        var removal: [Double] = [], removalAfterExit: [Double] = [], fromCommit: [Double] = [], agentSide: [Double] = [], arrivalFromCommit: [Double] = [], arrival: [Double] = [], nftAlone: [Double] = [], watch: [Double] = []
        for change in 0..<changes {
            let index = Int.random(in: 0..<ports.count, using: &random)
            let port = ports[index]
            let victim = port.clusterEndpoints[Int.random(in: 0..<port.clusterEndpoints.count, using: &random)]
            let key = AckKey(
                service: "\(port.name.namespace)/\(port.name.name)", port: port.name.port, protocol: port.protocol, ip: victim.ip,
                targetPort: victim.port)
            var without = port
            without.clusterEndpoints.removeAll { $0 == victim }

            // The slice says terminating: the agent must say stale (the rules still route it).
            let sliceChanged = ContinuousClock.now
            try await setTerminating(server: server, port: port, victim: victim, terminating: true)
            let stale = try await acks.wait(for: key) { $0.state == .stale }
            watch.append(Self.seconds(stale.arrived - sliceChanged))

            // kube-proxy's partial sync removes it: time to the drained ack.
            let sync = writer.partialSync(from: [port], to: [without])
            let t0 = ContinuousClock.now
            try await Self.offPool { [nft] in try ns.load(sync.update, with: nft) }
            let nftDone = ContinuousClock.now
            let drained = try await acks.wait(for: key) { $0.state == .drained }
            removal.append(Self.seconds(drained.arrived - t0))
            removalAfterExit.append(Self.seconds(nftDone - drained.arrived))
            if let commit = commits.firstCommit(after: t0) { fromCommit.append(Self.seconds(drained.arrived - commit)) }
            if let wall = commits.firstCommitWallTime(after: t0), let converged = drained.ack.convergedAt {
                // `convergedAt` travels with millisecond resolution: a value just before the commit is rounding.
                agentSide.append(max(0, converged.timeIntervalSince(wall)))
            }
            nftAlone.append(Self.seconds(nftDone - t0))
            if let cleanup = sync.cleanup { try ns.load(cleanup, with: ["nft", "-f"]) }

            // Restore: ready again (missing until programmed), then programmed.
            try await setTerminating(server: server, port: port, victim: victim, terminating: false)
            _ = try await acks.wait(for: key) { $0.state == .missing }
            let back = writer.partialSync(from: [without], to: [port])
            let t1 = ContinuousClock.now
            try await Self.offPool { [nft] in try ns.load(back.update, with: nft) }
            let programmed = try await acks.wait(for: key) { $0.state == .programmed }
            arrival.append(Self.seconds(programmed.arrived - t1))
            if let commit = commits.firstCommit(after: t1) { arrivalFromCommit.append(Self.seconds(programmed.arrived - commit)) }
            if (change + 1) % 20 == 0 { Terminal.note("\(change + 1)/\(changes) changes") }
        }
        let endRSS = Self.memory(of: agent.processIdentifier)
        await acks.stop()

        // Graceful stop: SIGTERM must end the agent cleanly.
        let stopStarted = ContinuousClock.now
        agent.terminate()
        agent.waitUntilExit()
        let stopTime = ContinuousClock.now - stopStarted

        func row(_ name: String, _ values: [Double]) -> String {
            let s = values.sorted()
            func q(_ p: Double) -> String { String(format: "%.1f", s[min(s.count - 1, Int((Double(s.count) * p).rounded(.up)) - 1)] * 1000) }
            return "| \(name) | \(q(0.5)) | \(q(0.9)) | \(q(0.99)) | \(String(format: "%.1f", (s.last ?? 0) * 1000)) |\n"
        }
        guard !fromCommit.isEmpty, !arrivalFromCommit.isEmpty else { throw BenchError("no nftables commit was seen in \(ns.name)") }
        let p99 = fromCommit.sorted()[min(fromCommit.count - 1, Int((Double(fromCommit.count) * 0.99).rounded(.up)) - 1)]
        var text = "# settle bench agent\n\n"
        text += "\(services) services × \(endpoints) endpoints (\(services * endpoints) endpoints, layout \(layout.rawValue)), \(changes) changes, \(DataplaneBench.hostLine())\n"
        text += "Command: `settle bench agent --services \(services) --endpoints \(endpoints) --changes \(changes) --layout \(layout.rawValue) --seed \(seed)\(nftNice == 0 ? "" : " --nft-nice \(nftNice)")`\n\n"
        text += "| latency (ms) | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|\n"
        text += row("**commit → `drained` ack received by a stream reader (removal)**", fromCommit)
        text += row("commit → `drained` ack made by the agent (its `convergedAt`, ms resolution)", agentSide)
        text += row("commit → `programmed` ack (arrival)", arrivalFromCommit)
        text += row("`nft -f` started → `drained` ack", removal)
        text += row("`drained` ack → `nft -f` exited (positive: the ack came first)", removalAfterExit)
        text += row("`nft -f` of the change alone (baseline)", nftAlone)
        text += row("slice update → `stale` ack (watch path)", watch)
        text += "\n| baseline: one full read (`settle dataplane`) | \(String(format: "%.2f", fullRead.seconds)) s, peak RSS \(fullRead.peakRSSBytes >> 20) MB |\n|---|---|\n"
        text += "| removal p99 (commit → ack) / full read | \(String(format: "%.4f", p99 / fullRead.seconds)) (\(String(format: "%.0f", fullRead.seconds / max(p99, 1e-6)))× faster) |\n"
        text += "| agent start-up to ready | \(String(format: "%.1f", Self.seconds(startup))) s |\n"
        text += "| agent RSS when ready / after the changes / peak | \(readyRSS.rss >> 20) MB / \(endRSS.rss >> 20) MB / \(endRSS.peak >> 20) MB |\n"
        text += "| SIGTERM → exit | \(String(format: "%.0f", Self.seconds(stopTime) * 1000)) ms, status \(agent.terminationStatus) |\n"
        if agent.terminationStatus != 0 {
            text += "\nagent log:\n```\n\((try? String(contentsOf: log, encoding: .utf8)) ?? "")\n```\n"
        }
        return text
    }

    /// Marks `victim` terminating (not ready, not serving) in its service's slice, or ready again.
    private func setTerminating(server: APIServer, port: ProxyServicePort, victim: EndpointAddress, terminating: Bool) async throws {
        var slice = try await server.state.get(V1EndpointSlice.self, namespace: port.name.namespace, name: "\(port.name.name)-1")
        for i in (slice.endpoints ?? []).indices where slice.endpoints?[i].addresses == [victim.ip.description] {
            slice.endpoints?[i].conditions = .init(ready: !terminating, serving: !terminating, terminating: terminating)
        }
        _ = try await server.state.update(slice)
    }

    /// Runs a blocking call (spawning `nft` and waiting for it) on a Dispatch thread, so the
    /// cooperative pool that reads the ack stream is never blocked while it runs.
    static func offPool(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try body()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Current and peak resident memory of a process (`VmRSS`, `VmHWM`), in bytes.
    static func memory(of pid: Int32) -> (rss: Int, peak: Int) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "0") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// A loopback port nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw BenchError("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
