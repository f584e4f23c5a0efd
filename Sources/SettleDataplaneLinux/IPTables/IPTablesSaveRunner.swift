#if os(Linux)
import Foundation
import SettleDataplane
import Subprocess
import Synchronization

/// Runs one `*-save` tool (`iptables-nft-save`, `ip6tables-legacy-save`, …), in a named network namespace
/// through `ip netns exec NAME` when one is given, and maps its failures to ``DataplaneError``.
///
/// The tools are found on `PATH` and in the sbin directories (an agent started by a unit file or a test
/// runner may have a `PATH` without `/usr/sbin`). Output is read whole: kube-proxy's nat table in a large
/// cluster is tens of megabytes, bounded here by ``outputLimit``.
struct IPTablesSaveRunner: Sendable {
    var netns: String?
    /// When set, each run appends `tool arguments…` here (tests check which tools ran).
    var log: CommandLog?

    init(netns: String?, log: CommandLog? = nil) {
        self.netns = netns
        self.log = log
    }

    /// The commands a runner ran, in order.
    final class CommandLog: Sendable {
        private let entries = Mutex<[String]>([])
        init() {}
        var commands: [String] { entries.withLock { $0 } }
        func append(_ command: String) { entries.withLock { $0.append(command) } }
    }

    static let sbinDirectories = ["/usr/local/sbin", "/usr/sbin", "/sbin"]
    static let outputLimit = 1 << 30

    /// The absolute path of `tool`, or `nil` when it is not installed.
    static func locate(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for directory in path.split(separator: ":").map(String.init) + sbinDirectories where !directory.isEmpty {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `tool arguments…` and returns its standard output.
    func save(_ tool: String, _ arguments: [String]) async throws(DataplaneError) -> String {
        log?.append(([tool] + arguments).joined(separator: " "))
        guard let toolPath = Self.locate(tool) else { throw .toolMissing(tool) }
        var executable = tool
        var fullArguments = arguments
        if let netns {
            guard Self.locate("ip") != nil else { throw .toolMissing("ip") }
            executable = "ip"
            fullArguments = ["netns", "exec", netns, toolPath] + arguments
        }
        let searchPath = ([ProcessInfo.processInfo.environment["PATH"] ?? ""] + Self.sbinDirectories)
            .filter { !$0.isEmpty }.joined(separator: ":")
        let output: String
        let errorText: String
        let status: Int32
        do {
            let result = try await run(
                .name(executable), arguments: Arguments(fullArguments),
                environment: .inherit.updating(["PATH": searchPath, "LC_ALL": "C"]),
                output: .string(limit: Self.outputLimit), error: .string(limit: 64 << 10))
            output = result.standardOutput
            errorText = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            switch result.terminationStatus {
            case .exited(let code): status = Int32(code)
            case .signaled(let signal): status = 128 + Int32(signal)
            }
        } catch let error as SubprocessError where error.code == .executableNotFound {
            throw .toolMissing(executable)
        } catch {
            throw .toolFailed(tool: tool, status: -1, stderr: "\(error)")
        }
        guard status == 0 else { throw Self.classify(tool: tool, netns: netns, status: status, stderr: errorText) }
        return output
    }

    /// Maps a failed run to the error an operator can act on.
    static func classify(tool: String, netns: String?, status: Int32, stderr: String) -> DataplaneError {
        let text = stderr.lowercased()
        if text.contains("permission denied") || text.contains("operation not permitted")
            || text.contains("must be root")
        {
            return .permissionDenied("\(tool): \(stderr)")
        }
        if let netns, text.contains("cannot open network namespace") {
            return .namespaceNotFound(netns)
        }
        return .toolFailed(tool: tool, status: status, stderr: stderr)
    }
}
#endif
