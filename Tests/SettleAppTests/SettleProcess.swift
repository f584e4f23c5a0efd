import Foundation

/// The built `settle` binary as a child process. Outputs go through temporary files (no pipe can
/// fill up and stall it) and waiting polls, so no thread of the test's cooperative pool blocks
/// while the in-process scripted aggregator needs it.
final class SettleProcess: @unchecked Sendable {
    // @unchecked: `Process` is not Sendable; this wrapper only reads its state after start.
    let process: Process
    let started: ContinuousClock.Instant
    private let outURL: URL
    private let errURL: URL

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var elapsed: Duration
    }

    /// Variables the tools read, removed from the child's environment unless `environment` sets them.
    static let hermetic = [
        "POD_IP", "POD_NAME", "POD_NAMESPACE", "SETTLE_AGGREGATOR", "KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
    ]

    /// Starts `settle arguments…` (or `executable`, e.g. a `kubectl-settle` symlink).
    init(_ arguments: [String], executable: String? = nil, environment: [String: String] = [:]) throws {
        let directory = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        outURL = directory.appendingPathComponent("settle-test-\(id).out")
        errURL = directory.appendingPathComponent("settle-test-\(id).err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try executable ?? CLITests.binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in Self.hermetic { env.removeValue(forKey: key) }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        started = .now
        try process.run()
    }

    deinit {
        if process.isRunning { process.interrupt() }
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }

    var stdout: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }
    var isRunning: Bool { process.isRunning }

    func terminate() { process.terminate() }

    /// Waits for the exit; kills the child and throws after `timeout`.
    func finish(timeout: Duration = .seconds(60)) async throws -> Result {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                throw TestFailure("settle \(process.arguments ?? []) still running after \(timeout); stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr, elapsed: started.duration(to: .now))
    }

    /// Runs `settle arguments…` to the end.
    static func run(_ arguments: [String], executable: String? = nil, environment: [String: String] = [:]) async throws -> Result {
        try await SettleProcess(arguments, executable: executable, environment: environment).finish()
    }

    /// Polls stderr until a line contains `text`; returns that line.
    func waitForLine(containing text: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = stderr.split(separator: "\n").first(where: { $0.contains(text) }) { return String(line) }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("no line with \"\(text)\" on stderr; stderr: \(stderr)")
    }
}
