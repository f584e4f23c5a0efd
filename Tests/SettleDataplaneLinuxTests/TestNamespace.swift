import Foundation
import Testing

/// A scratch network namespace for one test, removed when the test ends.
///
/// Tests that touch the kernel create their own namespace, load rules into it, read them back and
/// remove it. They need root; CI runs as root. Where root is absent they are skipped through
/// ``TestNamespace/isRoot`` with a message, never silently passed.
final class TestNamespace: Sendable {
    let name: String

    static var isRoot: Bool { geteuid() == 0 }

    init(_ prefix: String = "settle-t") throws {
        name = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        try Self.run("/usr/sbin/ip", ["netns", "add", name])
        try Self.run("/usr/sbin/ip", ["-n", name, "link", "set", "lo", "up"])
    }

    deinit {
        _ = try? Self.run("/usr/sbin/ip", ["netns", "delete", name])
    }

    /// Runs `ip netns exec NAME tool args…`, feeding `input` on stdin; throws with stderr on failure.
    @discardableResult
    func exec(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        try Self.run("/usr/sbin/ip", ["netns", "exec", name, tool] + arguments, input: input)
    }

    /// Loads an nftables script with `nft -f`.
    func nft(_ script: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("settle-\(UUID().uuidString).nft")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try exec("nft", ["-f", file.path])
    }

    struct CommandFailed: Error, CustomStringConvertible {
        var command: String
        var status: Int32
        var stderr: String
        var description: String { "\(command) exited \(status): \(stderr)" }
    }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        let inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        // Read both pipes before waiting so a large output cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CommandFailed(
                command: ([tool] + arguments).joined(separator: " "), status: process.terminationStatus,
                stderr: String(decoding: errData, as: UTF8.self))
        }
        return String(decoding: outData, as: UTF8.self)
    }
}

/// Skips kernel tests when not root, saying why.
let requiresRoot = Testing.ConditionTrait.enabled(if: TestNamespace.isRoot, "needs root for network namespaces")
