import ArgumentParser
import Foundation
import SettleLab
import Synchronization
import UnixSignals

extension LabStrategy: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension LagDistribution: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { description }
}

/// `settle lab`: a small cluster in network namespaces, showing what each preStop strategy costs.
struct LabCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Runs a cluster in network namespaces and counts the connections each preStop strategy loses.",
        discussion: """
            Builds N nodes and M pods as network namespaces on a bridge, with:
              - a stand-in API server holding one Service (lab/web, 172.30.0.10:80)
                and its EndpointSlice;
              - per node, a "kube-proxy" programming real nftables rules after a lag
                drawn from --lag (the last node lags --straggler);
              - Settle itself: a real `settle agent` per node and `settle aggregator`;
              - per node, a client opening --rate new connections a second to the
                ClusterIP (real DNAT through that node's rules).
            Then, per --strategy, it deletes pods one after another as a rolling
            update does (a replacement becomes ready as the old pod's endpoint
            turns terminating), runs the strategy's preStop, sends SIGTERM (the
            pod's server stops accepting) and counts the connections that failed:
              none       SIGTERM at once
              sleep:S    `sleep S`, today's common practice (e.g. sleep:5)
              settle     `settle wait --ip POD_IP`: SIGTERM once every node has
                         dropped the pod
              drain      `settle drain pod/NAME`: relabel the pod out of the
                         Service, wait for every node, then delete it (SIGTERM)
            Writes report.md, summary.json, timeline.svg and every process's log
            to --out. Needs root. Everything it creates is removed on exit, on
            error and on Ctrl-C.

            Exit status:
              0  done
              1  the settle strategy lost a connection, or let SIGTERM through
                 before a node had dropped the pod (never expected: a bug)
              2  the lab could not run
            """)

    @Option(help: "Nodes (network namespaces with kube-proxy rules, an agent and a client).")
    var nodes = 4

    @Option(help: "Pods serving the Service at any time.")
    var pods = 3

    @Option(help: "kube-proxy's lag per node and change: a duration (2s) or a uniform range (0-3s).")
    var lag = LagDistribution(lower: .zero, upper: .seconds(3))

    @Option(help: "The last node's kube-proxy lag (a straggler); 0 for none.")
    var straggler = DurationArgument("6s")

    @Option(name: .customLong("strategy"), help: ArgumentHelp("A strategy: none, sleep:S, settle or drain (repeatable). (default: none, sleep:5, settle)", valueName: "strategy"))
    var strategies: [LabStrategy] = []

    @Option(help: "Pods deleted per strategy.")
    var deletions = 2

    @Option(help: "New connections a second from each node's client.")
    var rate = 50

    @Option(help: "Seed of the lag draws.")
    var seed: UInt64 = 1

    @Option(help: "Directory for report.md, summary.json, timeline.svg and logs/.")
    var out = "settle-lab"

    /// The lab these flags describe, run with the `settle` binary at `settle`.
    func configuration(settle: String) -> LabConfiguration {
        var configuration = LabConfiguration(output: URL(fileURLWithPath: out), settle: settle)
        configuration.nodes = nodes
        configuration.pods = pods
        configuration.lag = lag
        configuration.straggler = straggler.duration
        if !strategies.isEmpty { configuration.strategies = strategies }
        configuration.deletions = deletions
        configuration.rate = rate
        configuration.seed = seed
        return configuration
    }

    func validate() throws {
        if let problem = configuration(settle: "").problem { throw ValidationError(problem) }
    }

    func run() async throws {
        let configuration = configuration(settle: Self.ownExecutable())

        let progress = LabProgress()
        let lab = LabRun(configuration: configuration) { progress.show($0) }
        let outcome: Result<LabReport, any Error>? = await withTaskGroup(of: Result<LabReport, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await lab.run()) } catch { return .failure(error) }
            }
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { return nil }
                return nil
            }
            let first = await group.next() ?? nil
            // On a signal the lab's task is cancelled and tears down; the group waits for it.
            group.cancelAll()
            return first
        }
        progress.finish()
        guard let outcome else {
            FileHandle.standardError.write(Data("interrupted: every namespace and process of the lab was removed\n".utf8))
            throw ExitCode(130)
        }
        let report: LabReport
        do {
            report = try outcome.get()
        } catch {
            throw Terminal.failure("\(error)")
        }
        try write(report, to: configuration.output)
        print(Self.summary(report, output: configuration.output))
        if let settle = report.strategies.first(where: { $0.strategy == "settle" }), settle.failed > 0 || settle.early > 0 {
            throw ExitCode(1)
        }
    }

    private func write(_ report: LabReport, to directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(report).write(to: directory.appendingPathComponent("summary.json"))
            try LabTimeline.svg(report).write(to: directory.appendingPathComponent("timeline.svg"), atomically: true, encoding: .utf8)
            let markdown = """
                # settle lab

                \(report.nodes.count) nodes, kube-proxy lag \(report.lag)\(report.straggler.map { ", straggler \($0) at \(straggler.text)" } ?? ""), \
                \(report.ratePerNode) new connections a second from each node.

                \(report.markdown)
                ![timeline](timeline.svg)

                """
            try markdown.write(to: directory.appendingPathComponent("report.md"), atomically: true, encoding: .utf8)
        } catch {
            throw Terminal.failure("cannot write the report to \(directory.path): \(error.localizedDescription)")
        }
    }

    static func summary(_ report: LabReport, output: URL) -> String {
        var lines = [""]
        let header = ["strategy", "failed", "of", "delay p50", "delay max", "slowest node", "failed by node"]
        var rows = [header]
        for s in report.strategies {
            rows.append([
                s.strategy, "\(s.failed)", "\(s.connections)", seconds(s.delayP50), seconds(s.delayMax), seconds(s.slowestMax),
                report.nodes.map { "\(s.failedByNode[$0] ?? 0)" }.joined(separator: "/"),
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
        }
        lines.append("(failed by node: \(report.nodes.joined(separator: "/"))\(report.straggler.map { "; \($0) is the straggler" } ?? ""))")
        if let settle = report.strategies.first(where: { $0.strategy == "settle" }) {
            lines.append(
                settle.failed == 0 && settle.early == 0
                    ? "settle: no connection lost; SIGTERM minus the slowest node's drop, worst case: \(settle.overheadMax >= 0 ? "+" : "")\(seconds(settle.overheadMax))"
                    : "settle: \(settle.failed) connections lost, \(settle.early) early SIGTERMs: this is a bug, the logs are in \(output.path)/logs")
        }
        if report.failedOutside > 0 { lines.append("warning: \(report.failedOutside) connections failed before the first deletion") }
        lines.append("report: \(output.path)/report.md, chart: \(output.path)/timeline.svg")
        return lines.joined(separator: "\n")
    }

    static func seconds(_ milliseconds: Int64) -> String { LabStatistics.seconds(milliseconds) }

    /// This binary, so that the lab's processes run the same build.
    static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// The lab's progress on stderr: one rewritten line on a terminal, plain lines otherwise.
final class LabProgress: Sendable {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let current = Mutex<String?>(nil)

    func show(_ event: LabEvent) {
        switch event {
        case .step(let text):
            line(text, keep: true)
        case .deleting(let strategy, let number, let total, let pod):
            line("[\(number)/\(total)] \(strategy): deleting \(pod)", keep: !isTerminal)
        case .waiting(let dropped, let nodes, let elapsed):
            guard isTerminal, let base = current.withLock({ $0 }) else { return }
            rewrite("\(base.components(separatedBy: " · ")[0]) · \(dropped)/\(nodes) nodes dropped it · \(LabCommand.seconds(elapsed))")
        case .deleted(let deletion):
            line(
                "[\(deletion.strategy)] \(deletion.pod): SIGTERM after \(LabCommand.seconds(deletion.delay)), slowest node dropped it after \(LabCommand.seconds(deletion.slowest))",
                keep: true)
        }
    }

    func finish() { if isTerminal, current.withLock({ $0 }) != nil { FileHandle.standardError.write(Data("\n".utf8)) } }

    private func line(_ text: String, keep: Bool) {
        if isTerminal {
            rewrite(text)
            if keep {
                FileHandle.standardError.write(Data("\n".utf8))
                current.withLock { $0 = nil }
            } else {
                current.withLock { $0 = text }
            }
        } else {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    private func rewrite(_ text: String) { FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8)) }
}

/// `settle lab-backend`: a lab pod's server (started by `settle lab` inside a pod namespace).
struct LabBackendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab-backend", abstract: "A lab pod's server (started by settle lab).", shouldDisplay: false)

    @Option(help: "The lab this process belongs to (for ps and pkill; not used otherwise).") var lab: String?
    @Option var port = 8080
    @Option var name: String

    func run() throws { LabBackend.run(port: port, name: name) }
}

/// `settle lab-client`: a lab node's client (started by `settle lab` inside a node namespace).
struct LabClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab-client", abstract: "A lab node's client (started by settle lab).", shouldDisplay: false)

    @Option(help: "The lab this process belongs to (for ps and pkill; not used otherwise).") var lab: String?
    @Option(help: "HOST:PORT (IPv4).") var target: String
    @Option var rate = 50
    @Option var timeout = DurationArgument("1s")

    func validate() throws {
        guard let colon = target.lastIndex(of: ":"), Int(target[target.index(after: colon)...]) != nil else {
            throw ValidationError("--target must be HOST:PORT")
        }
    }

    func run() throws {
        let colon = target.lastIndex(of: ":")!
        LabClient.run(host: String(target[..<colon]), port: Int(target[target.index(after: colon)...])!, rate: rate, timeout: timeout.duration)
    }
}
