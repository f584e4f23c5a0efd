import Foundation

/// One process the lab started (an agent, the aggregator, a backend, a client, a preStop hook),
/// with its standard output and error in `log`.
final class LabChild: @unchecked Sendable {
    // @unchecked: `Process` is not Sendable; it is only started in init and signalled afterwards.
    let name: String
    let log: URL
    private let process: Process

    init(name: String, executable: String, arguments: [String], log: URL) throws {
        self.name = name
        self.log = log
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        do {
            try process.run()
        } catch {
            throw LabError("cannot start \(name) (\(executable)): \(error)")
        }
        try? handle.close()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    func signal(_ signal: Int32) { if process.isRunning { kill(process.processIdentifier, signal) } }

    /// Waits for the process to exit; `nil` when it is still running after `timeout`.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return process.terminationStatus
    }

    /// The log's lines so far.
    func lines() -> [Substring] {
        guard let data = FileManager.default.contents(atPath: log.path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n")
    }

    /// The log's last lines, for error messages.
    func tail(_ count: Int = 5) -> String { lines().suffix(count).joined(separator: "\n") }
}

/// Every process the lab started, so that all of them are stopped on every way out.
actor LabChildren {
    private var children: [LabChild] = []
    let logDirectory: URL
    let settle: String

    init(logDirectory: URL, settle: String) {
        self.logDirectory = logDirectory
        self.settle = settle
    }

    /// Starts `settle arguments…`, in `namespace` when given, logging to `logs/NAME.log`.
    func start(_ name: String, _ arguments: [String], in namespace: String? = nil) throws -> LabChild {
        let log = logDirectory.appendingPathComponent("\(name).log")
        let child =
            if let namespace {
                try LabChild(name: name, executable: LabNetwork.ipTool, arguments: ["netns", "exec", namespace, settle] + arguments, log: log)
            } else {
                try LabChild(name: name, executable: settle, arguments: arguments, log: log)
            }
        children.append(child)
        record(child)
        return child
    }

    /// Appends `PID NAME` to `logs/processes.txt`: what the lab started, for whoever has to find it.
    private func record(_ child: LabChild) {
        let url = logDirectory.appendingPathComponent("processes.txt")
        if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
        guard let handle = try? FileHandle(forWritingTo: url) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data("\(child.pid) \(child.name)\n".utf8))
    }

    /// Forgets children that have exited (short-lived preStop hooks, terminated backends).
    func reap() { children.removeAll { !$0.isRunning } }

    /// SIGTERM to every child, then SIGKILL to what is left after `grace`.
    func stopAll(grace: Duration = .seconds(3)) async {
        let running = children.filter(\.isRunning)
        for child in running { child.signal(SIGTERM) }
        for child in running where await child.waitForExit(timeout: grace) == nil {
            child.signal(SIGKILL)
            _ = await child.waitForExit(timeout: .seconds(2))
        }
        children.removeAll()
    }
}
