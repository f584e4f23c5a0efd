import Foundation

/// A scratch network namespace for one test, removed when the last reference goes.
///
/// Tests that touch the kernel create their own namespace, load rules into it, read them back and
/// remove it. They need root; CI runs as root. Where root is absent they are skipped (see
/// ``ScratchNamespace/isRoot``) with a message, never silently passed.
public final class ScratchNamespace: Sendable {
    public let name: String

    public static var isRoot: Bool { geteuid() == 0 }

    public init(_ prefix: String = "settle-t") throws {
        name = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        try Command.run("/usr/sbin/ip", ["netns", "add", name])
        try Command.run("/usr/sbin/ip", ["-n", name, "link", "set", "lo", "up"])
    }

    deinit {
        _ = try? Command.run("/usr/sbin/ip", ["netns", "delete", name])
    }

    /// Runs `ip netns exec NAME tool args…`, feeding `input` on stdin; throws with stderr on failure.
    @discardableResult
    public func exec(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        try Command.run("/usr/sbin/ip", ["netns", "exec", name, tool] + arguments, input: input)
    }

    /// Loads an nftables script with `nft -f`.
    public func nft(_ script: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("settle-\(UUID().uuidString).nft")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try exec("nft", ["-f", file.path])
    }
}

/// Runs a program to completion and returns its standard output.
public enum Command {
    public struct Failed: Error, CustomStringConvertible {
        public var command: String
        public var status: Int32
        public var stderr: String
        public var description: String { "\(command) exited \(status): \(stderr)" }
    }

    /// Runs `tool arguments…` with `input` on stdin; throws ``Failed`` (with stderr) on a non-zero exit.
    ///
    /// Input and both outputs go through temporary files, so no size of either can deadlock the
    /// child against this process (as pipes written and read in turn can).
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        let directory = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        let inURL = directory.appendingPathComponent("settle-cmd-\(id).in")
        let outURL = directory.appendingPathComponent("settle-cmd-\(id).out")
        let errURL = directory.appendingPathComponent("settle-cmd-\(id).err")
        defer { for url in [inURL, outURL, errURL] { try? FileManager.default.removeItem(at: url) } }
        try Data((input ?? "").utf8).write(to: inURL)
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: inURL)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        let output = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw Failed(
                command: ([tool] + arguments).joined(separator: " "), status: process.terminationStatus,
                stderr: ((try? String(contentsOf: errURL, encoding: .utf8)) ?? "") + output.prefix(4000))
        }
        return output
    }

    /// Whether `tool` is an executable on `PATH` (or an absolute path that exists).
    public static func find(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(separator: ":") {
            let path = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }
}

/// How many times longer than on a real machine a test may wait: `SETTLE_TEST_TIME_SCALE` (default
/// 1). `.ci/vm-test` runs the kernel suites in a VM under software emulation (TCG), tens of times
/// slower, and sets it there; no test asserts on timing, but their deadlines must not fire first.
public enum TestTime {
    public static let scale: Int = ProcessInfo.processInfo.environment["SETTLE_TEST_TIME_SCALE"].flatMap(Int.init).map { max(1, $0) } ?? 1

    /// `timeout` times ``scale``.
    public static func scaled(_ timeout: Duration) -> Duration { timeout * scale }
}

/// Polls `condition` until it holds; throws after `timeout` (times ``TestTime/scale``) instead of hanging.
public func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + TestTime.scaled(timeout)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw TimedOut(what: what)
}

public struct TimedOut: Error, CustomStringConvertible {
    public var what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}
