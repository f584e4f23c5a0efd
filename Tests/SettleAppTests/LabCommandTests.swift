import Foundation
import SettleLab
import Testing

/// `settle lab` end to end: real namespaces, real nftables rules, the real agents, aggregator and
/// `settle wait`, real connections. Serialized: each lab is a dozen processes on a 2-core machine.
@Suite(.serialized) struct LabCommandTests {
    /// Every namespace and process a lab with child `pid` made is gone.
    static func expectNothingLeft(pid: Int32, out: URL) throws {
        let namespaces = try String(decoding: Self.output("/usr/sbin/ip", ["netns", "list"]), as: UTF8.self)
        #expect(!namespaces.contains("sl\(pid)-"), "namespaces left: \(namespaces)")
        // Agents name their namespace on the command line; backends and clients their lab (`--lab sl<pid>`).
        let processes = try String(decoding: Self.output("/usr/bin/ps", ["-eo", "pid,args"]), as: UTF8.self)
            .split(separator: "\n").filter { $0.contains("sl\(pid)-") || $0.contains("--lab sl\(pid) ") }
        #expect(processes.isEmpty, "processes left: \(processes)")
        // And by the lab's own record of what it started.
        let started = try String(contentsOf: out.appendingPathComponent("logs/processes.txt"), encoding: .utf8).split(separator: "\n")
        #expect(started.count >= 4)
        let alive = started.filter { line in Int32(line.split(separator: " ")[0]).map { kill($0, 0) == 0 } ?? true }
        #expect(alive.isEmpty, "still running: \(alive)")
    }

    static func output(_ tool: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }

    static func scratchDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("settle-lab-test-\(UUID().uuidString)")
    }

    /// The claim, small: with lags of 0–1 s and a 2 s straggler, `settle` (and `drain`)
    /// loses nothing and never sends SIGTERM before a node has dropped the pod; `sleep:1` loses
    /// connections on the straggler; `none` loses connections.
    @Test(.enabled(if: geteuid() == 0, "needs root: network namespaces"))
    func strategiesCompared() async throws {
        let out = Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let lab = try SettleProcess([
            "lab", "--nodes", "3", "--pods", "2", "--lag", "0-1s", "--straggler", "2s", "--strategy", "none", "--strategy", "sleep:1",
            "--strategy", "settle", "--strategy", "drain", "--deletions", "1", "--rate", "50", "--out", out.path,
        ])
        let result = try await lab.finish(timeout: .seconds(240))
        #expect(result.status == 0, "stderr: \(result.stderr)\nstdout: \(result.stdout)")
        try Self.expectNothingLeft(pid: lab.process.processIdentifier, out: out)

        let report = try JSONDecoder().decode(LabReport.self, from: Data(contentsOf: out.appendingPathComponent("summary.json")))
        #expect(report.nodes == ["node-1", "node-2", "node-3"])
        #expect(report.straggler == "node-3")
        #expect(report.failedOutside == 0)
        #expect(report.strategies.map(\.strategy) == ["none", "sleep:1s", "settle", "drain"])
        let byName = Dictionary(uniqueKeysWithValues: report.strategies.map { ($0.strategy, $0) })
        let settle = try #require(byName["settle"])
        #expect(settle.failed == 0)
        #expect(settle.early == 0)
        #expect(settle.connections > 0)
        #expect(settle.delayMax >= 2000, "the straggler's 2 s lag bounds settle's delay from below")
        // settle drain: relabelled out of the Service, waited for, deleted; the same guarantee.
        let drain = try #require(byName["drain"])
        #expect(drain.failed == 0)
        #expect(drain.early == 0)
        #expect(drain.delayMax >= 2000)
        let sleep = try #require(byName["sleep:1s"])
        #expect((sleep.failedByNode["node-3"] ?? 0) > 0, "sleep:1 against a 2 s straggler loses connections there")
        let none = try #require(byName["none"])
        #expect(none.failed > 0)
        #expect(none.early == 1)
        for deletion in report.deletions {
            #expect(deletion.nodes.count == 3)
            #expect(deletion.waitStatus == (["settle", "drain"].contains(deletion.strategy) ? 0 : nil))
        }
        for file in ["report.md", "timeline.svg", "logs/aggregator.log", "logs/agent-node-1.log"] {
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(file).path), "\(file)")
        }
        #expect(result.stdout.contains("settle: no connection lost"))
    }

    @Test(.enabled(if: geteuid() == 0, "needs root: network namespaces"))
    func interruptedLabRemovesEverything() async throws {
        let out = Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        // A straggler slower than the test: the interrupt lands mid-deletion, with every process up.
        let lab = try SettleProcess([
            "lab", "--nodes", "2", "--pods", "2", "--lag", "0", "--straggler", "60s", "--strategy", "settle", "--out", out.path,
        ])
        _ = try await lab.waitForLine(containing: "deleting", timeout: .seconds(120))
        kill(lab.process.processIdentifier, SIGINT)
        let result = try await lab.finish(timeout: .seconds(60))
        #expect(result.status == 130, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("interrupted"))
        try Self.expectNothingLeft(pid: lab.process.processIdentifier, out: out)
    }

    @Test func badSettingsAreUsageErrors() async throws {
        for arguments in [["--pods", "1"], ["--lag", "3s-1s"], ["--strategy", "bogus"], ["--nodes", "0"], ["--rate", "0"]] {
            let result = try await SettleProcess.run(["lab"] + arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("Error"), "\(arguments): \(result.stderr)")
        }
    }

    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root to drop it"))
    func withoutRootTheLabSaysSo() async throws {
        // A copy anyone may run: the build directory may not be readable by nobody.
        let directory = Self.scratchDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let copy = directory.appendingPathComponent("settle")
        try FileManager.default.copyItem(atPath: try CLITests.binary, toPath: copy.path)
        let result = try await SettleProcess(
            ["--reuid=65534", "--regid=65534", "--clear-groups", copy.path, "lab", "--out", directory.appendingPathComponent("out").path],
            executable: "/usr/bin/setpriv"
        ).finish()
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("needs root"), "\(result.stderr)")
    }
}
