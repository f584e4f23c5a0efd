import Foundation
import Testing

/// A throw-away network namespace for loading rules into the real kernel; always deleted.
struct ScratchNamespace {
    let name: String

    /// True when running as root (CI is); the real-kernel tests need it.
    static var available: Bool { geteuid() == 0 }

    struct CommandError: Error, CustomStringConvertible {
        var command: [String]
        var status: Int32
        var output: String
        var description: String { "\(command.joined(separator: " ")) exited \(status): \(output.prefix(4000))" }
    }

    /// Runs `body` in a fresh namespace `settle-rw-<random>` and deletes it afterwards, also on failure.
    static func with<T>(_ body: (ScratchNamespace) throws -> T) throws -> T {
        let ns = ScratchNamespace(name: "settle-rw-\(UInt32.random(in: 0...UInt32.max))")
        _ = try run(["ip", "netns", "add", ns.name])
        defer { _ = try? run(["ip", "netns", "del", ns.name]) }
        return try body(ns)
    }

    /// Runs a command inside the namespace; `stdin` is written to a temporary file and redirected.
    @discardableResult
    func exec(_ arguments: [String], stdin: String? = nil) throws -> String {
        try Self.run(["ip", "netns", "exec", name] + arguments, stdin: stdin)
    }

    /// Loads one `nft -f` input.
    func nft(file text: String) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).nft")
        try text.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        try exec(["nft", "-f", url.path])
    }

    /// Elements of a named set or map, from `nft -j list`.
    func elementCount(family: String, kind: String, name: String) throws -> Int {
        let json = try exec(["nft", "-j", "list", kind, family, "kube-proxy", name])
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let items = object?["nftables"] as? [[String: Any]] ?? []
        for item in items {
            if let body = item[kind] as? [String: Any] { return (body["elem"] as? [Any])?.count ?? 0 }
        }
        return 0
    }

    @discardableResult
    static func run(_ arguments: [String], stdin: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        var inputURL: URL?
        if let stdin {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("settle-rw-\(UUID().uuidString).in")
            try stdin.write(to: url, atomically: true, encoding: .utf8)
            process.standardInput = try FileHandle(forReadingFrom: url)
            inputURL = url
        }
        defer { if let inputURL { try? FileManager.default.removeItem(at: inputURL) } }
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw CommandError(command: arguments, status: process.terminationStatus, output: text)
        }
        return text
    }
}
