import ArgumentParser
import Foundation
import SettleAggregation
import Synchronization

extension WaitTarget: ExpressibleByArgument {}

/// `settle wait`: blocks until an endpoint is drained (or programmed) on every counted node.
struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Waits until every node has stopped sending new connections to an endpoint (or routes them to it).",
        discussion: """
            Asks the aggregator (`settle aggregator`) about one endpoint IP or one pod, and waits:
              --for drained      no counted node routes new connections to it any more (the preStop question)
              --for programmed   every counted node routes new connections to it (a new pod is reachable)
            Without --ip or --pod it waits for $POD_IP (set it from the downward API, status.podIP).

            Exit status:
              0  done; for drained also when the aggregator does not know the IP or pod at all (no \
            EndpointSlice lists it, or none has lately): nothing routes to it
              1  timeout: not done when --timeout passed
              2  error: bad usage (this command exits 2, not 64, on usage errors), bad input, or the \
            aggregator could not be reached by the deadline

            Unreachable aggregators, 429 and 5xx answers are retried until the deadline; for programmed, \
            "not known yet" (404) is retried too. Progress goes to stderr (one line, rewritten on a \
            terminal); the result is one line on stdout, which kubelet shows in a FailedPreStopHook event.

            preStop example (settle in the app image; keep --timeout below terminationGracePeriodSeconds):
              lifecycle:
                preStop:
                  exec:
                    command: ["settle", "wait", "--timeout", "25s"]
              env:
                - name: POD_IP
                  valueFrom: {fieldRef: {fieldPath: status.podIP}}
            Without settle in the image, run `settle drain-sidecar` next to the app and use an httpGet preStop.
            """)

    @Option(help: "The endpoint IP to wait for. (default: $POD_IP)")
    var ip: String?

    @Option(help: ArgumentHelp("The pod to wait for, as NAMESPACE/NAME (all its IPs).", valueName: "namespace/name"))
    var pod: String?

    @Option(name: .customLong("for"), help: "What to wait for: drained or programmed.")
    var target: WaitTarget = .drained

    @Option(help: "How long to wait in all, retries included (e.g. 500ms, 25s, 2m).")
    var timeout = DurationArgument("60s")

    @Option(help: "The aggregator's URL. (default: $SETTLE_AGGREGATOR, else \(AggregatorClient.defaultURL))")
    var aggregator: String?

    func validate() throws {
        if ip != nil && pod != nil { throw ValidationError("pass --ip or --pod, not both") }
        if let pod, WaitSubject.pod(pod) == nil { throw ValidationError("--pod must be NAMESPACE/NAME, got \"\(pod)\"") }
        if let ip, !Self.looksLikeIP(ip) { throw ValidationError("--ip must be an IPv4 or IPv6 address, got \"\(ip)\"") }
        if timeout.duration <= .zero { throw ValidationError("--timeout must be more than 0") }
    }

    func run() async throws {
        let subject: WaitSubject
        if let ip {
            subject = .ip(ip)
        } else if let pod {
            subject = WaitSubject.pod(pod)!
        } else {
            let env = ProcessInfo.processInfo.environment["POD_IP"] ?? ""
            guard !env.isEmpty else { throw Terminal.failure("no endpoint to wait for: pass --ip IP or --pod NAMESPACE/NAME, or set POD_IP") }
            guard Self.looksLikeIP(env) else { throw Terminal.failure("$POD_IP must be an IPv4 or IPv6 address, got \"\(env)\"") }
            subject = .ip(env)
        }
        let client: AggregatorClient
        do {
            client = try AggregatorClient(url: AggregatorClient.url(flag: aggregator))
        } catch {
            throw Terminal.failure("\(error)")
        }
        let line = ProgressLine()
        let clock = ContinuousClock()
        let start = clock.now
        // On a terminal the line's clock keeps running between answers (a long poll lasts up to 10 s).
        let ticker = Task {
            while !Task.isCancelled && line.isTerminal {
                try? await Task.sleep(for: .milliseconds(500))
                line.refresh(elapsed: start.duration(to: clock.now))
            }
        }
        let outcome = await client.wait(for: subject, until: target, timeout: timeout.duration) { progress in
            line.show(WaitReport.progress(progress), elapsed: start.duration(to: clock.now))
        }
        ticker.cancel()
        await client.shutdown()
        line.finish()
        let report = WaitReport(outcome: outcome, subject: subject, target: target, elapsed: start.duration(to: clock.now))
        switch report.status {
        case 2: throw Terminal.failure(report.line)
        default:
            FileHandle.standardOutput.write(Data((report.line + "\n").utf8))
            if report.status != 0 { throw ExitCode(report.status) }
        }
    }

    /// Dotted IPv4 or an IPv6 literal; the aggregator judges the rest (400).
    static func looksLikeIP(_ text: String) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ $0.count <= 3 && UInt8($0) != nil }) { return true }
        return text.contains(":") && text.count <= 45 && text.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }
}

/// The one result line of a wait and its exit status (0 done, 1 timeout, 2 error).
struct WaitReport: Sendable {
    var line: String
    var status: Int32

    init(outcome: WaitOutcome, subject: WaitSubject, target: WaitTarget, elapsed: Duration) {
        let after = "after \(Self.format(elapsed))"
        switch outcome {
        case .done(let answer):
            line = "done: \(subject) \(target) \(after) — \(answer.summary)\(Self.uncounted(answer))"
            status = 0
        case .notAnEndpoint(let why):
            line = "done: \(subject) is not an endpoint the aggregator knows (\(why)), so no node routes new connections to it (\(after))"
            status = 0
        case .timedOut(let answer?, let note):
            line = "timeout: \(subject) not \(target) \(after) — \(answer.summary)\(Self.uncounted(answer))"
            if let note { line += "; then: \(note)" }
            status = 1
        case .timedOut(nil, let note):
            line = "timeout: \(subject) not \(target) \(after)\(note.map { " — \($0)" } ?? "")"
            status = 1
        case .failed(let why, let last):
            line = "\(subject) \(target): \(why) (\(after)\(last.map { "; last answer: \($0.summary)" } ?? ""))"
            status = 2
        }
    }

    /// `; unknown: node-c (silent); excluded: node-d (nodeDeleting)` — nodes the summary may not name.
    static func uncounted(_ answer: WaitAnswer) -> String {
        var text = ""
        for (label, verdicts) in [("unknown", answer.unknown), ("excluded", answer.excluded)] where !verdicts.isEmpty {
            let names = verdicts.prefix(5).map { "\($0.node) (\($0.reason.rawValue))" }.joined(separator: ", ")
            let more = verdicts.count > 5 ? " and \(verdicts.count - 5) more" : ""
            if !answer.summary.contains(verdicts[0].node) { text += "; \(label): \(names)\(more)" }
        }
        return text
    }

    static func progress(_ progress: WaitProgress) -> String {
        switch progress {
        case .answer(let answer): answer.summary
        case .retrying(let why): "retrying: \(why)"
        }
    }

    /// `850ms`, `2.3s`, `1m05s`.
    static func format(_ duration: Duration) -> String {
        let seconds = duration.inSeconds
        if seconds < 1 { return "\(duration.inMilliseconds)ms" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        return "\(Int(seconds) / 60)m\(String(format: "%02d", Int(seconds) % 60))s"
    }
}

/// The waiting line on stderr: rewritten in place on a terminal, otherwise one line per change
/// of its text (the elapsed time alone is no change).
final class ProgressLine: Sendable {
    let isTerminal = isatty(STDERR_FILENO) == 1
    private let state = Mutex<(last: String?, shown: Bool)>((nil, false))

    /// Rewrites the terminal line with a new elapsed time (nothing before the first text, or off a terminal).
    func refresh(elapsed: Duration) {
        guard isTerminal, let text = state.withLock({ $0.last }) else { return }
        show(text, elapsed: elapsed)
    }

    func show(_ text: String, elapsed: Duration) {
        let stamped = "[\(WaitReport.format(elapsed))] \(text)"
        let output: String? = state.withLock { state in
            if isTerminal {
                state.shown = true
                state.last = text
                return "\r\u{1B}[K" + String(stamped.prefix(200))
            }
            guard state.last != text else { return nil }
            state.last = text
            return stamped + "\n"
        }
        if let output { FileHandle.standardError.write(Data(output.utf8)) }
    }

    /// Ends the rewritten line, so what follows starts on a line of its own.
    func finish() {
        let shown = state.withLock { state in
            defer { state.last = nil }
            return state.shown
        }
        if isTerminal && shown { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
