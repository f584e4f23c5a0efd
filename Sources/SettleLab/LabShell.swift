import Dispatch
import Foundation

/// A failure of the lab, worded for the person who ran it.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs the short tools the lab drives (`ip`, `nft`) to completion.
enum LabShell {
    /// Runs `tool arguments…` with `input` on stdin on a thread of its own (never one of Swift's
    /// cooperative threads, which the lab's timing depends on); throws with stderr on failure.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String], input: String? = nil) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runBlocking(tool, arguments, input: input) })
            }
        }
    }

    static func runBlocking(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do {
            try process.run()
        } catch {
            throw LabError("cannot run \(tool): \(error)")
        }
        // Outputs are read on their own threads while the input is written, so neither side can fill a pipe and stall.
        let out = Collected(stdout.fileHandleForReading)
        let err = Collected(stderr.fileHandleForReading)
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        let output = out.wait()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: err.wait(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw LabError("\(([tool] + arguments).joined(separator: " ")) exited \(process.terminationStatus): \(message)")
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Everything a pipe delivers until EOF, read on a background thread.
    private final class Collected: @unchecked Sendable {
        // @unchecked: `data` is written once by the reader before `done` is signalled, read after.
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)
        init(_ handle: FileHandle) {
            DispatchQueue.global().async {
                self.data = handle.readDataToEndOfFile()
                self.done.signal()
            }
        }
        func wait() -> Data {
            done.wait()
            return data
        }
    }
}
