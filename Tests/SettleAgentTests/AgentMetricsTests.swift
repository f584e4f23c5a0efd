import Foundation
import SettleAgent
import SettleConvergence
import Testing

@Suite struct AgentMetricsTests {
    private static func text(_ metrics: AgentMetrics) -> String { String(decoding: metrics.exposition(), as: UTF8.self) }

    /// Records one value of every metric.
    private static func recordSome(_ metrics: AgentMetrics) {
        metrics.setStates([.programmed: 40, .stale: 2, .missing: 1])
        metrics.setInTransition(3)
        metrics.recordTransitions([.added, .removed, .removed])
        metrics.recordRead(kind: .full, duration: .milliseconds(30))
        metrics.recordRead(kind: .incremental, duration: .microseconds(200))
        metrics.recordEventOverflow()
        metrics.recordResync(reason: .overflow)
        metrics.recordWatchRestart()
        metrics.recordConvergence(latency: .milliseconds(1500))
        metrics.setReady(true)
        metrics.setAckSequence(12)
        metrics.setStreamClients(2)
    }

    /// Gauges print as floating point (`40.0`), counters as integers: swift-prometheus' rendering.
    @Test("recorded values appear under their settle_agent_ names and labels; absent states read 0")
    func exposition() {
        let metrics = AgentMetrics(version: "1.2.3")
        Self.recordSome(metrics)
        let text = Self.text(metrics)
        for line in [
            #"settle_agent_endpoints{state="programmed"} 40.0"#,
            #"settle_agent_endpoints{state="drained"} 0.0"#,
            "settle_agent_endpoints_in_transition 3.0",
            #"settle_agent_transitions_total{change="removed"} 2"#,
            #"settle_agent_transitions_total{change="tombstone"} 0"#,
            #"settle_agent_dataplane_reads_total{kind="full"} 1"#,
            #"settle_agent_dataplane_read_duration_seconds_count{kind="incremental"} 1"#,
            "settle_agent_dataplane_event_overflows_total 1",
            #"settle_agent_dataplane_resyncs_total{reason="overflow"} 1"#,
            #"settle_agent_dataplane_resyncs_total{reason="periodic"} 0"#,
            "settle_agent_watch_restarts_total 1",
            "settle_agent_ack_stream_clients 2.0",
            #"settle_agent_convergence_latency_seconds_bucket{le="1.0"} 0"#,
            #"settle_agent_convergence_latency_seconds_bucket{le="2.0"} 1"#,
            "settle_agent_convergence_latency_seconds_count 1",
            "settle_agent_ready 1.0",
            "settle_agent_ack_sequence 12.0",
            #"settle_agent_build_info{version="1.2.3"} 1.0"#,
        ] {
            #expect(text.contains(line + "\n"), "missing line: \(line)")
        }
    }

    @Test("convergence latency uses kube-proxy's network programming buckets: 0, 0.25, 0.5, 1…59, 60…115 by 5, 120…300 by 30")
    func kubeProxyBuckets() {
        let buckets = AgentMetrics.kubeProxyNetworkProgrammingBuckets
        #expect(buckets.count == 3 + 59 + 12 + 7)
        #expect(buckets.prefix(4) == [0, 0.25, 0.5, 1])
        #expect(buckets.suffix(8) == [115, 120, 150, 180, 210, 240, 270, 300])
        #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test("two agents in one process keep separate metrics")
    func separateRegistries() {
        let first = AgentMetrics()
        let second = AgentMetrics()
        first.recordWatchRestart()
        #expect(Self.text(first).contains("settle_agent_watch_restarts_total 1\n"))
        #expect(Self.text(second).contains("settle_agent_watch_restarts_total 0\n"))
    }

    @Test("promtool check metrics accepts /metrics as served (skipped without promtool)")
    func promtool() async throws {
        guard let promtool = Self.findExecutable("promtool") else {
            print("skipped: promtool not found in PATH (Debian package prometheus; .ci/install-deps installs it)")
            return
        }
        let body = try await withAgentServer { agent in
            Self.recordSome(agent.metrics)
            let response = try await agent.get("/metrics")
            #expect(response.status == 200)
            return response.body
        }
        let process = Process()
        process.executableURL = promtool
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(body.utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool check metrics: \(report)")
        #expect(report.isEmpty, "promtool lint: \(report)")
    }

    private static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let url = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return nil
    }
}
