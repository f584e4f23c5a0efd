import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SettleAPIServer
import SettleAcks
import SettleAggregation
import SettleConvergence
import SettleKube
import SettleKubeProxyRules
import SettleModel
import SettleSelection
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `settle bench aggregator`: the aggregator under 5,000 agents' acknowledgement streams (issue #5).
///
/// In this process: the stand-in API server with `services × endpoints` Services and
/// EndpointSlices, and `--agents` simulated agents (one real `AckHub` each) behind one HTTP server,
/// node i at its own loopback address 127.0.X.Y. The real `settle aggregator` runs as a child
/// process reading every agent's `/v1/acks` and watching the slices. Each change marks one
/// endpoint terminating in its slice (generation + 1); every agent then records, after its own
/// random lag, a `stale` ack computed from the new generation (its watch at the slice's new
/// resourceVersion), and a random sync delay later a `drained` ack. A waiter per change
/// (`/v1/endpoints/{ip}?for=drained&wait=30s`, opened right after the slice update) measures the
/// wait-release latency: from the bench recording the last node's `drained` ack to the answer
/// arriving. Baselines from the same run: `/healthz` round trips, and `wrk` on `/healthz`.
struct AggregatorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregator",
        abstract: "Measure the aggregator: thousands of agents' ack streams, wait-release latency, CPU, memory, query throughput.")

    enum Format: String, ExpressibleByArgument { case table, json }

    @Option(help: "Simulated agents (nodes).")
    var agents = 5000

    @Option(help: "Services (one EndpointSlice each).")
    var services = 1000

    @Option(help: "Endpoints per service.")
    var endpoints = 5

    @Option(help: "Endpoint changes per second, cluster-wide.")
    var rate = 20.0

    @Option(help: "How long to churn.")
    var duration = DurationArgument("30s")

    @Option(help: "Each node records its stale ack a random 0…lag after the slice change.")
    var lag = DurationArgument("50ms")

    @Option(help: "Each node records its drained ack a random 0…sync-delay after its stale ack (kube-proxy's sync).")
    var syncDelay = DurationArgument("100ms")

    @Option(help: "A drained ack expires this long after it was recorded (the agent's --retention).")
    var retention = DurationArgument("120s")

    @Option(help: "Deltas each simulated agent's journal keeps for resuming readers.")
    var ring = 1024

    @Option(help: "wait= of each waiter.")
    var wait = DurationArgument("30s")

    @Option(help: "After the churn, wait at most this long for the aggregator to read everything the agents sent.")
    var catchUpLimit = DurationArgument("300s")

    @Option(help: "wrk run length per URL (0 skips wrk).")
    var wrkDuration = DurationArgument("10s")

    @Option(help: "wrk threads.")
    var wrkThreads = 2

    @Option(help: "wrk connections.")
    var wrkConnections = 64

    @Option(help: "Seed for the endpoints changed and the nodes' lags.")
    var seed: UInt64 = 1

    @Option(help: "The settle binary to run as the aggregator (default: this one).")
    var settle: String?

    @Option(help: "Keep the aggregator's log (JSON lines) in this file.")
    var aggregatorLog: String?

    @Option(help: "The aggregator's --log-level.")
    var aggregatorLogLevel = "warning"

    @Option(help: "Output: table (Markdown) or json.")
    var format: Format = .table

    @Option(help: "Also write the report to this file.")
    var out: String?

    func validate() throws {
        guard (1...60_000).contains(agents) else { throw ValidationError("--agents must be 1…60000") }
        guard services > 0, endpoints > 0, rate > 0 else { throw ValidationError("--services, --endpoints and --rate must be positive") }
        guard changeCount <= services * endpoints else {
            throw ValidationError("--rate × --duration (\(changeCount) changes) must not exceed the \(services * endpoints) endpoints: each change uses a fresh endpoint")
        }
        guard changeCount > 0 else { throw ValidationError("--rate × --duration gives no change") }
    }

    var changeCount: Int { Int((rate * Self.seconds(duration.duration)).rounded()) }

    // MARK: - Running

    func run() async throws {
        let settle = try self.settle ?? DataplaneBench.selfPath()
        Self.raiseFileLimit()
        if let problem = BenchWire.selfCheck() { throw BenchError("the bench's delta writer differs from AckWire: \(problem)") }

        var logger = Logger(label: "settle.bench.apiserver")
        logger.logLevel = .critical
        let server = APIServer(configuration: APIServerConfiguration(bookmarkInterval: .seconds(5)), logger: logger)
        let ports = BenchServices.make(count: services, endpoints: endpoints)
        let objects = BenchServices.objects(for: ports)
        Terminal.note("stand-in API server: \(services) services × \(endpoints) endpoints; \(agents) simulated agents …")
        for service in objects.services { _ = try await server.state.create(service) }
        var slices: [V1EndpointSlice] = []
        for slice in objects.slices { slices.append(try await server.state.create(slice)) }
        let listVersion = await server.state.resourceVersion

        let nodes = (0..<agents).map { BenchNode(name: "node-\($0)", watch: listVersion, ringCapacity: ring) }
        var byHost: [String: BenchNode] = [:]
        for (i, node) in nodes.enumerated() { byHost[Self.address(of: i)] = node }
        let counters = BenchStreamCounters()
        let agentPort = Mutex<Int?>(nil)
        var agentLogger = Logger(label: "settle.bench.agents")
        agentLogger.logLevel = .critical
        let agentsApp = Application(
            responder: BenchAgentsResponder(nodes: byHost, counters: counters, encode: BenchWire.encode),
            configuration: .init(address: .hostname("0.0.0.0", port: 0), serverName: nil, backlog: 8192),
            onServerRunning: { channel in agentPort.withLock { $0 = channel.localAddress?.port } },
            logger: agentLogger)

        let report = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask { try await agentsApp.run() }
            group.addTask {
                // Heartbeats: every stream sends one at least every 5 s (docs/agent-api.md).
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(5))
                    for node in nodes { node.pokeHeartbeat() }
                }
            }
            defer {
                for node in nodes { node.close() }
                group.cancelAll()
            }
            let apiPort = try await server.waitForPort()
            var port: Int?
            for _ in 0..<3000 where port == nil {
                port = agentPort.withLock { $0 }
                if port == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            guard let port else { throw BenchError("the simulated agents' HTTP server did not start") }
            return try await measure(
                settle: settle, apiPort: apiPort, agentPort: port, server: server, nodes: nodes, slices: slices, ports: ports,
                counters: counters)
        }
        let text: String
        switch format {
        case .table: text = report.markdown
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            text = String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
        }
        print(text, terminator: "")
        if let out { try text.write(toFile: out, atomically: true, encoding: .utf8) }
    }

    /// Node i's agent address: 127.0.X.Y, X from 1, Y 1…250 (all of 127/8 is this host on Linux).
    static func address(of node: Int) -> String { "127.0.\(1 + node / 250).\(1 + node % 250)" }

    private func measure(
        settle: String, apiPort: Int, agentPort: Int, server: APIServer, nodes: [BenchNode], slices: [V1EndpointSlice],
        ports: [ProxyServicePort], counters: BenchStreamCounters
    ) async throws -> AggregatorBenchReport {
        // The aggregator, reading every simulated agent.
        let listenPort = try AgentBench.freePort()
        let log = aggregatorLog.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("settle-bench-aggregator-\(getpid()).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let aggregator = Process()
        aggregator.executableURL = URL(fileURLWithPath: settle)
        aggregator.arguments = [
            "aggregator", "--server", "http://127.0.0.1:\(apiPort)", "--listen", "127.0.0.1:\(listenPort)", "--no-node-watch",
            "--log-level", aggregatorLogLevel, "--max-waiters", "100000",
        ] + (0..<agents).flatMap { ["--agent", "node-\($0)=http://\(Self.address(of: $0)):\(agentPort)"] }
        aggregator.standardError = try FileHandle(forWritingTo: log)
        aggregator.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try aggregator.run()
        let pid = aggregator.processIdentifier
        defer {
            if aggregator.isRunning { aggregator.terminate() }
            if aggregatorLog == nil { try? FileManager.default.removeItem(at: log) }
        }
        let base = "http://127.0.0.1:\(listenPort)"
        let http = HTTPClient.shared

        // Ready, and every agent healthy.
        var healthy = 0
        var readyAt: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(600)
        while true {
            guard aggregator.isRunning else {
                throw BenchError("the aggregator exited during start-up: \((try? String(contentsOf: log, encoding: .utf8))?.suffix(4000) ?? "")")
            }
            guard ContinuousClock.now < deadline else {
                throw BenchError("the aggregator did not see \(agents) healthy agents in 10 minutes (\(healthy) healthy)")
            }
            if readyAt == nil, let response = try? await http.execute(HTTPClientRequest(url: "\(base)/readyz"), timeout: .seconds(5)),
                response.status == .ok
            {
                readyAt = .now
            }
            if readyAt != nil, let nodes: NodesAnswer = try? await Self.getJSON(http, "\(base)/v1/nodes") {
                healthy = nodes.counts.healthy
                if healthy == agents { break }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let connected = ContinuousClock.now - started
        Terminal.note("aggregator ready with \(agents) healthy agents after \(Self.format(Self.seconds(connected))); idle 3 s …")
        try await Task.sleep(for: .seconds(3))
        let idleRSS = AgentBench.memory(of: pid)

        // Baseline: /healthz round trips, idle.
        var idleHealthz: [Double] = []
        for _ in 0..<200 {
            if case .success(let r) = await BlockingHTTP.get(port: listenPort, path: "/healthz", timeout: .seconds(5)) {
                idleHealthz.append(Self.seconds(r.arrived - r.sent))
            }
        }

        // Churn.
        let churn = try await self.churn(
            server: server, nodes: nodes, slices: slices, listenPort: listenPort, pid: pid, http: http, base: base, counters: counters)
        let afterRSS = AgentBench.memory(of: pid)
        guard aggregator.isRunning else {
            throw BenchError("the aggregator exited during the churn: \((try? String(contentsOf: log, encoding: .utf8))?.suffix(4000) ?? "")")
        }

        // The aggregator catches up with what the agents sent (a backlog, if it fell behind).
        let catchUpStarted = ContinuousClock.now
        let sentByThen = counters.snapshot.messages
        var caughtUp: Double?
        while ContinuousClock.now - catchUpStarted < catchUpLimit.duration, aggregator.isRunning {
            if let received = try? await Self.messagesReceived(http, base), received >= sentByThen {
                caughtUp = Self.seconds(ContinuousClock.now - catchUpStarted)
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        if caughtUp == nil { Terminal.note("the aggregator did not catch up with the agents' streams within \(catchUpLimit)") }

        // Query throughput.
        var wrk: AggregatorBenchReport.Throughput?
        let wrkPath = "/usr/bin/wrk"
        var wrkNote: String?
        if Self.seconds(wrkDuration.duration) <= 0 {
            wrkNote = "skipped (--wrk-duration 0)"
        } else if !FileManager.default.isExecutableFile(atPath: wrkPath) {
            wrkNote = "skipped: wrk is not installed (Debian: apt-get install -y wrk)"
        } else if let ip = churn.queryIP {
            Terminal.note("wrk: /healthz, then /v1/endpoints/\(ip) …")
            let seconds = Int(Self.seconds(wrkDuration.duration).rounded(.up))
            let healthz = try Self.wrk(wrkPath, threads: wrkThreads, connections: wrkConnections, seconds: seconds, url: "\(base)/healthz")
            let cpu0 = Self.cpuSeconds(of: pid)
            let t0 = ContinuousClock.now
            let endpoint = try Self.wrk(
                wrkPath, threads: wrkThreads, connections: wrkConnections, seconds: seconds, url: "\(base)/v1/endpoints/\(ip)")
            let cpu = (Self.cpuSeconds(of: pid) - cpu0) / Self.seconds(ContinuousClock.now - t0)
            let sample = try? await BlockingHTTP.get(port: listenPort, path: "/v1/endpoints/\(ip)", timeout: .seconds(5)).get()
            wrk = .init(
                healthz: healthz, endpoint: endpoint, endpointPath: "/v1/endpoints/\(ip)", endpointAnswerBytes: sample?.body.count ?? 0,
                aggregatorCPUDuringEndpoint: cpu, settings: "wrk -t\(wrkThreads) -c\(wrkConnections) -d\(seconds)s --latency")
        }
        let endRSS = AgentBench.memory(of: pid)

        let stopStarted = ContinuousClock.now
        aggregator.terminate()
        var killed = false
        while aggregator.isRunning {
            if ContinuousClock.now - stopStarted > .seconds(30) {
                Terminal.note("the aggregator did not exit within 30 s of SIGTERM; killing it")
                kill(pid, SIGKILL)
                killed = true
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        aggregator.waitUntilExit()
        let stop = Self.seconds(ContinuousClock.now - stopStarted)

        return AggregatorBenchReport(
            command: commandLine, host: DataplaneBench.hostLine(), agents: agents, services: services, endpointsPerService: endpoints,
            rate: rate, durationSeconds: Self.seconds(duration.duration), changes: changeCount, lagMs: Self.seconds(lag.duration) * 1000,
            syncDelayMs: Self.seconds(syncDelay.duration) * 1000, startupSeconds: Self.seconds(connected),
            rssIdleBytes: idleRSS.rss, rssAfterChurnBytes: afterRSS.rss, rssEndBytes: endRSS.rss, rssPeakBytes: endRSS.peak,
            idleHealthzMs: Summary(idleHealthz.map { $0 * 1000 }), churn: churn, catchUpSeconds: caughtUp, catchUpLimitSeconds: Self.seconds(catchUpLimit.duration), throughput: wrk, wrkNote: wrkNote,
            stopSeconds: stop, stopStatus: aggregator.terminationStatus, killedAfterSIGTERM: killed)
    }

    private var commandLine: String {
        "settle bench aggregator --agents \(agents) --services \(services) --endpoints \(endpoints) --rate \(Self.trim(rate)) --duration \(duration) --lag \(lag) --sync-delay \(syncDelay) --seed \(seed)"
    }

    // MARK: - Churn

    /// One change as the bench made it.
    struct Change: Sendable {
        var key: AckKey
        var slice: SliceReference
        var resourceVersion: String
        var resourceVersionNumber: Int64
    }

    /// One scheduled ack of one node.
    struct Event: Sendable {
        enum Kind: UInt8, Sendable { case stale, drained, expire }
        var node: Int32
        var change: Int32
        var kind: Kind
        /// For `drained`: when the node recorded `stale` (ms since the churn began).
        var sinceMs: Int32
    }

    /// Shared between the change driver, the scheduler thread and the waiters.
    final class ChurnBook: Sendable {
        struct State {
            var changes: [Change] = []
            var drained: [Int] = []
            var lastDrained: [ContinuousClock.Instant?] = []
            /// Events by millisecond slot since the churn began; slots up to `processed` are done.
            var slots: [Int: [Event]] = [:]
            var processed = -1
            var stop = false
            var recordNanos: Int64 = 0
            var recorded = 0
            var lateSlots = 0
            var maxLateMs = 0
        }

        let state = Mutex(State())

        func add(_ change: Change, events: [(slot: Int, event: Event)]) -> Int {
            state.withLock { state in
                state.changes.append(change)
                state.drained.append(0)
                state.lastDrained.append(nil)
                for (slot, event) in events {
                    state.slots[max(slot, state.processed + 1), default: []].append(event)
                }
                return state.changes.count - 1
            }
        }
    }

    private func churn(
        server: APIServer, nodes: [BenchNode], slices: [V1EndpointSlice], listenPort: Int, pid: Int32, http: HTTPClient, base: String,
        counters: BenchStreamCounters
    ) async throws -> AggregatorBenchReport.Churn {
        var random = SplitMix64(seed: seed)
        var order = (0..<(services * endpoints)).map { ($0 / endpoints, $0 % endpoints) }
        order.shuffle(using: &random)
        let count = changeCount
        let interval = Duration.seconds(1) / rate
        let lagMs = Int(Self.seconds(lag.duration) * 1000)
        let syncMs = Int(Self.seconds(syncDelay.duration) * 1000)
        let retentionMs = Int(Self.seconds(retention.duration) * 1000)
        let waitText = "\(Int(Self.seconds(wait.duration).rounded()))s"
        let agents = self.agents
        let book = ChurnBook()
        let t0 = ContinuousClock.now
        let wallBaseMs = Int64((Date().timeIntervalSince1970 * 1000).rounded())

        // The scheduler: one thread records every node's acks at their times (millisecond slots).
        let schedulerDone = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let schedulerFinished = Mutex(false)
        let thread = Thread {
            Self.schedule(book: book, nodes: nodes, agents: agents, t0: t0, wallBaseMs: wallBaseMs, retentionMs: retentionMs)
            let continuation = schedulerDone.withLock { c -> CheckedContinuation<Void, Never>? in
                schedulerFinished.withLock { $0 = true }
                defer { c = nil }
                return c
            }
            continuation?.resume()
        }
        thread.start()

        let cpu0 = Self.cpuSeconds(of: pid)
        let selfCPU0 = Self.selfCPUSeconds()
        let messages0 = try await Self.messagesReceived(http, base)
        let sent0 = counters.snapshot
        var slices = slices
        var waiters: [Task<(Int, Result<TimedResponse, BenchError>), Never>] = []
        var nodeLast = [Int](repeating: 0, count: agents)
        var updateTimes: [Double] = []
        var queryIP: String?
        Terminal.note("churn: \(count) changes at \(Self.trim(rate))/s across \(agents) agents …")

        let healthProbe = Task { () -> [Double] in
            var rtts: [Double] = []
            while !Task.isCancelled {
                if case .success(let r) = await BlockingHTTP.get(port: listenPort, path: "/healthz", timeout: .seconds(30)) {
                    rtts.append(Self.seconds(r.arrived - r.sent))
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return rtts
        }

        for k in 0..<count {
            try await Task.sleep(until: t0 + interval * k, clock: .continuous)
            let (serviceIndex, endpointIndex) = order[k]
            var slice = slices[serviceIndex]
            slice.endpoints?[endpointIndex].conditions = .init(ready: false, serving: true, terminating: true)
            let u0 = ContinuousClock.now
            let stored = try await server.state.update(slice)
            updateTimes.append(Self.seconds(ContinuousClock.now - u0))
            slices[serviceIndex] = stored
            let ipText = stored.endpoints?[endpointIndex].addresses.first ?? ""
            guard let ip = IPAddress(ipText), let uid = stored.metadata.uid, let rv = stored.metadata.resourceVersion,
                let rvNumber = Int64(rv)
            else { throw BenchError("the stand-in returned a slice without uid, resourceVersion or address") }
            let name = stored.metadata.name ?? ""
            let key = AckKey(
                service: "\(stored.metadata.namespace ?? "")/\(stored.serviceName ?? "")", port: stored.ports?.first?.name ?? "",
                protocol: .tcp, ip: ip, targetPort: stored.ports?.first?.port ?? 8080)
            let change = Change(
                key: key, slice: SliceReference(name: name, uid: uid, generation: stored.metadata.generation), resourceVersion: rv,
                resourceVersionNumber: rvNumber)
            let nowMs = Int(Self.seconds(ContinuousClock.now - t0) * 1000)
            var events: [(slot: Int, event: Event)] = []
            events.reserveCapacity(agents * 3)
            for n in 0..<agents {
                let stale = max(nodeLast[n], nowMs + Int.random(in: 0...max(0, lagMs), using: &random))
                nodeLast[n] = stale
                let drained = stale + Int.random(in: 0...max(0, syncMs), using: &random)
                events.append((stale, Event(node: Int32(n), change: Int32(k), kind: .stale, sinceMs: 0)))
                events.append((drained, Event(node: Int32(n), change: Int32(k), kind: .drained, sinceMs: Int32(stale))))
                events.append((drained + retentionMs, Event(node: Int32(n), change: Int32(k), kind: .expire, sinceMs: 0)))
            }
            // The waiter opens right after the slice change, before any ack is scheduled.
            let path = "/v1/endpoints/\(ipText)?for=drained&wait=\(waitText)"
            let timeout = wait.duration + .seconds(10)
            waiters.append(Task { (k, await BlockingHTTP.get(port: listenPort, path: path, timeout: timeout)) })
            _ = book.add(change, events: events)
            if queryIP == nil { queryIP = ipText }
            if (k + 1) % max(1, Int(rate * 5)) == 0 { Terminal.note("\(k + 1)/\(count) changes") }
        }
        let churnEnd = ContinuousClock.now
        Terminal.note("churn done; waiting for the last acks and answers …")
        var results: [(Int, Result<TimedResponse, BenchError>)] = []
        for waiter in waiters { results.append(await waiter.value) }
        // Everything recorded that matters (drained acks); expiries lie beyond the run.
        let allDrained = ContinuousClock.now
        let cpu = Self.cpuSeconds(of: pid) - cpu0
        let selfCPU = Self.selfCPUSeconds() - selfCPU0
        let messages1 = try await Self.messagesReceived(http, base)
        let sent1 = counters.snapshot
        let wall = Self.seconds(allDrained - t0)
        healthProbe.cancel()
        let healthz = await healthProbe.value
        book.state.withLock { $0.stop = true }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = schedulerDone.withLock { c -> Bool in
                if schedulerFinished.withLock({ $0 }) { return true }
                c = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }

        // Each answer against the bench's own record of the last drained ack.
        let (lastDrained, recordNanos, recorded, drainedCounts, lateSlots, maxLate) = book.state.withLock {
            ($0.lastDrained, $0.recordNanos, $0.recorded, $0.drained, $0.lateSlots, $0.maxLateMs)
        }
        var latencies: [Double] = []
        var early = 0, notDone = 0, failed = 0, timedOut = 0, incomplete = 0, overdue = 0
        var failures: [String] = []
        let decoder = AckWire.decoder
        for (k, result) in results {
            switch result {
            case .failure(let error) where error.description == BlockingHTTP.overdue:
                overdue += 1
            case .failure(let error):
                failed += 1
                if failures.count < 3 { failures.append(error.description) }
            case .success(let response):
                guard response.status == 200, let answer = try? decoder.decode(WaitAnswer.self, from: Data(response.body)) else {
                    failed += 1
                    if failures.count < 3 { failures.append("HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))") }
                    continue
                }
                guard let last = lastDrained[k] else {
                    incomplete += 1
                    if answer.done { early += 1 } else if answer.timedOut { timedOut += 1 } else { notDone += 1 }
                    continue
                }
                if !answer.done {
                    if answer.timedOut { timedOut += 1 } else { notDone += 1 }
                    continue
                }
                if response.arrived < last { early += 1; continue }
                latencies.append(Self.seconds(response.arrived - last))
            }
        }
        _ = drainedCounts
        let delivered = messages1 - messages0
        let deltas = sent1.deltas - sent0.deltas
        return .init(
            wallSeconds: wall, churnSeconds: Self.seconds(churnEnd - t0), aggregatorCPU: cpu / wall, benchCPU: selfCPU / wall,
            acksRecorded: recorded, benchRecordMicros: recorded > 0 ? Double(recordNanos) / Double(recorded) / 1000 : 0,
            deltasSent: deltas, bytesSent: sent1.bytes - sent0.bytes, messagesReceived: delivered,
            messagesPerSecond: Double(delivered) / wall, expectedMessages: count * agents * 2,
            waitRelease: Summary(latencies.map { $0 * 1000 }), healthzMs: Summary(healthz.map { $0 * 1000 }),
            sliceUpdateMs: Summary(updateTimes.map { $0 * 1000 }), answers: results.count, done: latencies.count + early,
            earlyReleases: early, notDone: notDone, timedOut: timedOut, overdue: overdue, failed: failed, failures: failures,
            withoutLastDrained: incomplete, lateSlots: lateSlots, maxSchedulerLateMs: maxLate, queryIP: queryIP)
    }

    /// The scheduler thread: runs each millisecond slot's events when its time comes, until told to stop.
    private static func schedule(book: ChurnBook, nodes: [BenchNode], agents: Int, t0: ContinuousClock.Instant, wallBaseMs: Int64, retentionMs: Int) {
        var nodeWatch = [Int64](repeating: 0, count: nodes.count)
        var changes: [Change] = []
        var drainedCounts: [Int] = []
        func date(_ ms: Int) -> Date { Date(timeIntervalSince1970: Double(wallBaseMs + Int64(ms)) / 1000) }
        while true {
            let nowMs = Int(seconds(ContinuousClock.now - t0) * 1000)
            let (due, stop, late) = book.state.withLock { state -> ([Event], Bool, Int) in
                guard nowMs > state.processed else { return ([], state.stop, 0) }
                var due: [Event] = []
                var late = 0
                for slot in (state.processed + 1)...nowMs {
                    if let events = state.slots.removeValue(forKey: slot) {
                        due.append(contentsOf: events)
                        late = max(late, nowMs - slot)
                    }
                }
                state.processed = nowMs
                if state.changes.count > changes.count {
                    changes.append(contentsOf: state.changes[changes.count...])
                    drainedCounts.append(contentsOf: repeatElement(0, count: changes.count - drainedCounts.count))
                }
                return (due, state.stop, late)
            }
            if stop { return }
            if !due.isEmpty {
                let r0 = ContinuousClock.now
                var completed: [(Int, ContinuousClock.Instant)] = []
                let now = date(nowMs)
                for event in due {
                    let change = changes[Int(event.change)]
                    let node = nodes[Int(event.node)]
                    switch event.kind {
                    case .stale:
                        let n = Int(event.node)
                        var watch: String?
                        if change.resourceVersionNumber > nodeWatch[n] {
                            nodeWatch[n] = change.resourceVersionNumber
                            watch = change.resourceVersion
                        }
                        let ack = Ack(
                            key: change.key, state: .stale, reason: .terminating, slice: change.slice, change: .removed, since: now)
                        node.record(changed: [ack], expired: [], watch: watch)
                    case .drained:
                        let ack = Ack(
                            key: change.key, state: .drained, reason: .terminating, slice: change.slice, change: .removed,
                            since: date(Int(event.sinceMs)), convergedAt: now)
                        node.record(changed: [ack], expired: [], watch: nil)
                        // The moment the last node's drained ack is in its journal: what wait release is measured from.
                        drainedCounts[Int(event.change)] += 1
                        if drainedCounts[Int(event.change)] == agents { completed.append((Int(event.change), .now)) }
                    case .expire:
                        node.record(changed: [], expired: [change.key], watch: nil)
                    }
                }
                let after = ContinuousClock.now
                let elapsed = after - r0
                book.state.withLock { state in
                    for (change, instant) in completed {
                        state.drained[change] = agents
                        state.lastDrained[change] = instant
                    }
                    state.recorded += due.count
                    state.recordNanos += elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
                    if late > 1 { state.lateSlots += 1 }
                    state.maxLateMs = max(state.maxLateMs, late)
                }
            }
            // Sleep to the next millisecond boundary.
            let next = t0 + .milliseconds(nowMs + 1)
            let remaining = next - ContinuousClock.now
            if remaining > .zero {
                var spec = timespec(tv_sec: Int(remaining.components.seconds), tv_nsec: Int(remaining.components.attoseconds / 1_000_000_000))
                nanosleep(&spec, nil)
            }
        }
    }

    // MARK: - Helpers

    static func getJSON<T: Decodable>(_ http: HTTPClient, _ url: String) async throws -> T {
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        guard response.status == .ok else { throw BenchError("\(url): HTTP \(response.status.code)") }
        let body = try await response.body.collect(upTo: 256 << 20)
        return try AckWire.decoder.decode(T.self, from: Data(body.readableBytesView))
    }

    /// `settle_aggregator_stream_messages_total` from the aggregator's `/metrics`.
    static func messagesReceived(_ http: HTTPClient, _ base: String) async throws -> Int {
        let response = try await http.execute(HTTPClientRequest(url: "\(base)/metrics"), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        let text = String(buffer: body)
        for line in text.split(separator: "\n") where line.hasPrefix("settle_aggregator_stream_messages_total") {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { return Int(value) }
        }
        throw BenchError("no settle_aggregator_stream_messages_total in the aggregator's /metrics")
    }

    /// User + system CPU seconds of a process, from `/proc/PID/stat`.
    static func cpuSeconds(of pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func selfCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }

    static func raiseFileLimit() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    static func wrk(_ path: String, threads: Int, connections: Int, seconds: Int, url: String) throws -> AggregatorBenchReport.Wrk {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("settle-bench-wrk-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try ProcessMeasurement.spawn(
            path, ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", url], stdoutPath: output)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard run.status == 0 else { throw BenchError("wrk exited with status \(run.status): \(text)") }
        func value(after label: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else { return nil }
            let parts = line.split(whereSeparator: \.isWhitespace)
            let labelWords = label.split(separator: " ").count
            guard parts.count > labelWords else { return nil }
            return parseWrkNumber(String(parts[labelWords]))
        }
        var errors = 0
        if let line = text.split(separator: "\n").first(where: { $0.contains("Non-2xx") }),
            let n = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) })
        {
            errors += n
        }
        if let line = text.split(separator: "\n").first(where: { $0.contains("Socket errors") }) {
            errors += line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.reduce(0, +)
        }
        return .init(
            requestsPerSecond: value(after: "Requests/sec:") ?? 0, p50Ms: value(after: "50%"), p99Ms: value(after: "99%"), errors: errors,
            url: url)
    }

    /// `1.23ms`, `456.00us`, `1.2s`, `12345.67` → milliseconds (times) or the number.
    static func parseWrkNumber(_ text: String) -> Double? {
        if text.hasSuffix("us") { return Double(text.dropLast(2)).map { $0 / 1000 } }
        if text.hasSuffix("ms") { return Double(text.dropLast(2)) }
        if text.hasSuffix("s") { return Double(text.dropLast(1)).map { $0 * 1000 } }
        if text.hasSuffix("m") { return Double(text.dropLast(1)).map { $0 * 60_000 } }
        return Double(text)
    }

    static func seconds(_ d: Duration) -> Double { AgentBench.seconds(d) }

    static func format(_ seconds: Double) -> String {
        if seconds >= 1 { return String(format: "%.1f s", seconds) }
        return String(format: "%.1f ms", seconds * 1000)
    }

    static func trim(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// p50/p90/p99/max of a sample (milliseconds where used for times).
struct Summary: Codable, Sendable {
    var count: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var max: Double

    init(_ values: [Double]) {
        let s = values.sorted()
        func q(_ p: Double) -> Double { s.isEmpty ? 0 : s[Swift.min(s.count - 1, Swift.max(0, Int((Double(s.count) * p).rounded(.up)) - 1))] }
        count = s.count
        p50 = q(0.5)
        p90 = q(0.9)
        p99 = q(0.99)
        max = s.last ?? 0
    }
}

struct AggregatorBenchReport: Codable, Sendable {
    struct Churn: Codable, Sendable {
        /// From the first change to the last answer.
        var wallSeconds: Double
        var churnSeconds: Double
        /// CPU seconds per wall second over `wallSeconds` (1.0 = one core).
        var aggregatorCPU: Double
        var benchCPU: Double
        var acksRecorded: Int
        /// The bench's mean time to record one ack into a hub (and wake its stream).
        var benchRecordMicros: Double
        var deltasSent: Int
        var bytesSent: Int
        /// Messages the aggregator counted on its streams (deltas and heartbeats).
        var messagesReceived: Int
        var messagesPerSecond: Double
        /// Deltas the churn makes: changes × agents × 2 (stale, drained).
        var expectedMessages: Int
        /// Last node's drained ack recorded → answer arrived, ms.
        var waitRelease: Summary
        /// `/healthz` round trips during the churn, ms (baseline).
        var healthzMs: Summary
        var sliceUpdateMs: Summary
        var answers: Int
        var done: Int
        var earlyReleases: Int
        var notDone: Int
        var timedOut: Int
        /// No answer at all by the wait's deadline + 10 s (the aggregator missed its own deadline).
        var overdue: Int
        var failed: Int
        var failures: [String]
        /// Answers whose change never had every node's drained ack recorded before the run ended.
        var withoutLastDrained: Int
        /// Scheduler slots that ran more than 1 ms late (the bench itself overloaded), and the worst.
        var lateSlots: Int
        var maxSchedulerLateMs: Int
        var queryIP: String?
    }

    struct Wrk: Codable, Sendable {
        var requestsPerSecond: Double
        var p50Ms: Double?
        var p99Ms: Double?
        var errors: Int
        var url: String
    }

    struct Throughput: Codable, Sendable {
        var healthz: Wrk
        var endpoint: Wrk
        var endpointPath: String
        var endpointAnswerBytes: Int
        var aggregatorCPUDuringEndpoint: Double
        /// `wrk -tT -cC -dD --latency`.
        var settings: String
    }

    var command: String
    var host: String
    var agents: Int
    var services: Int
    var endpointsPerService: Int
    var rate: Double
    var durationSeconds: Double
    var changes: Int
    var lagMs: Double
    var syncDelayMs: Double
    var startupSeconds: Double
    var rssIdleBytes: Int
    var rssAfterChurnBytes: Int
    var rssEndBytes: Int
    var rssPeakBytes: Int
    var idleHealthzMs: Summary
    var churn: Churn
    /// After the last answer: until the aggregator had received every message sent so far (`nil`: not within the limit).
    var catchUpSeconds: Double?
    var catchUpLimitSeconds: Double
    var throughput: Throughput?
    var wrkNote: String?
    var stopSeconds: Double
    var stopStatus: Int32
    /// The aggregator did not exit within 30 s of SIGTERM and was killed.
    var killedAfterSIGTERM: Bool

    var markdown: String {
        func ms(_ v: Double) -> String { v >= 100 ? String(format: "%.0f", v) : String(format: "%.2f", v) }
        func mb(_ b: Int) -> String { "\(b >> 20) MB" }
        func row(_ name: String, _ s: Summary) -> String {
            "| \(name) | \(ms(s.p50)) | \(ms(s.p90)) | \(ms(s.p99)) | \(ms(s.max)) | \(s.count) |\n"
        }
        let c = churn
        var t = "# settle bench aggregator\n\n"
        t += "\(agents) simulated agents, \(services) services × \(endpointsPerService) endpoints, \(AggregatorBench.trim(rate)) changes/s for \(AggregatorBench.trim(durationSeconds)) s (\(changes) changes; per-node lag 0–\(Int(lagMs)) ms, sync 0–\(Int(syncDelayMs)) ms), \(host)\n"
        t += "Command: `\(command)`\n\n"
        t += "| latency (ms) | p50 | p90 | p99 | max | n |\n|---|---:|---:|---:|---:|---:|\n"
        t += row("**wait release: last node's `drained` ack recorded → answer arrived**", c.waitRelease)
        t += row("`/healthz` round trip during the churn (baseline)", c.healthzMs)
        t += row("`/healthz` round trip, idle", idleHealthzMs)
        t += row("slice update in the stand-in (bench side)", c.sliceUpdateMs)
        let base = c.healthzMs.p50 > 0 ? c.healthzMs.p50 : 1
        t += "\nWait release vs `/healthz` p50 during the churn: p50 \(String(format: "%.1f", c.waitRelease.p50 / base))×, p99 \(String(format: "%.1f", c.waitRelease.p99 / base))×. Target p99 ≤ 5 ms: \(c.waitRelease.p99 <= 5 && c.waitRelease.count > 0 ? "✓" : "✗").\n\n"
        t += "| waiters | done | early releases (must be 0) | not done | timed out (answered) | no answer by deadline + 10 s | failed | last drained never recorded |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        t += "| \(c.answers) | \(c.done) | \(c.earlyReleases) | \(c.notDone) | \(c.timedOut) | \(c.overdue) | \(c.failed) | \(c.withoutLastDrained) |\n\n"
        if !c.failures.isEmpty { t += "First failures: " + c.failures.map { "`\($0.prefix(300))`" }.joined(separator: "; ") + "\n\n" }
        t += "| aggregator | value |\n|---|---:|\n"
        t += "| start-up to \(agents) healthy agents | \(String(format: "%.1f", startupSeconds)) s |\n"
        t += "| CPU during the churn (user+sys / wall, \(String(format: "%.1f", c.wallSeconds)) s) | \(String(format: "%.2f", c.aggregatorCPU)) cores |\n"
        t += "| RSS idle after connect / after the churn / end / peak | \(mb(rssIdleBytes)) / \(mb(rssAfterChurnBytes)) / \(mb(rssEndBytes)) / \(mb(rssPeakBytes)) |\n"
        t += "| messages received (aggregator's counter) | \(c.messagesReceived) (\(String(format: "%.0f", c.messagesPerSecond))/s; the churn makes \(c.expectedMessages) deltas) |\n"
        t += "| after the last answer, until it had read every message sent | \(catchUpSeconds.map { String(format: "%.1f s", $0) } ?? "more than \(Int(catchUpLimitSeconds)) s") |\n"
        t += "| deltas sent by the simulated agents | \(c.deltasSent), \(c.bytesSent >> 20) MB |\n"
        t += "| bench: CPU / time to record one ack into a hub | \(String(format: "%.2f", c.benchCPU)) cores / \(String(format: "%.1f", c.benchRecordMicros)) µs |\n"
        t += "| bench scheduler slots > 1 ms late / worst | \(c.lateSlots) / \(c.maxSchedulerLateMs) ms |\n"
        t += "| SIGTERM → exit | \(killedAfterSIGTERM ? "no exit within 30 s; killed" : "\(String(format: "%.0f", stopSeconds * 1000)) ms, status \(stopStatus)") |\n"
        if let w = throughput {
            t += "\n| query throughput (`\(w.settings)`, same run) | req/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|\n"
            func wrow(_ name: String, _ r: Wrk) -> String {
                "| \(name) | \(String(format: "%.0f", r.requestsPerSecond)) | \(r.p50Ms.map { String(format: "%.2f", $0) } ?? "?") | \(r.p99Ms.map { String(format: "%.2f", $0) } ?? "?") | \(r.errors) |\n"
            }
            t += wrow("`/healthz` (baseline)", w.healthz)
            t += wrow("`\(w.endpointPath)` (\(w.endpointAnswerBytes) B answer)", w.endpoint)
            t += "\n`/v1/endpoints` throughput / `/healthz`: \(String(format: "%.2f", w.endpoint.requestsPerSecond / max(w.healthz.requestsPerSecond, 1))); aggregator CPU meanwhile \(String(format: "%.2f", w.aggregatorCPUDuringEndpoint)) cores. Target ≥ 20k req/s: \(w.endpoint.requestsPerSecond >= 20_000 ? "✓" : "✗").\n"
        } else if let wrkNote {
            t += "\nQuery throughput: \(wrkNote).\n"
        }
        return t
    }
}
