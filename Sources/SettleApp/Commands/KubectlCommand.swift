import ArgumentParser
import Foundation

/// `kubectl settle`: the same binary run as `kubectl-settle` (a symlink or a copy on `PATH`),
/// which kubectl finds as a plugin.
struct KubectlCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubectl settle",
        abstract: "Settle's kubectl plugin: node health, waits and drains, from the Settle aggregator.",
        discussion: """
            Install: link the settle binary as kubectl-settle somewhere on PATH, e.g.
              ln -s "$(command -v settle)" /usr/local/bin/kubectl-settle
            The aggregator is asked at --aggregator or $SETTLE_AGGREGATOR, else through the API server's \
            service proxy (kube://settle-system/settle-aggregator:9468) with the credentials of $KUBECONFIG \
            or ~/.kube/config: tokens and client certificates (exec credential plugins are not supported; \
            there, forward the aggregator: kubectl -n settle-system port-forward svc/settle-aggregator 9468, \
            and export SETTLE_AGGREGATOR=http://127.0.0.1:9468). Proxying needs get on services/proxy \
            in settle-system.
            """,
        version: SettleVersion.current,
        subcommands: [StatusCommand.self, WaitCommand.self, DrainCommand.self]
    )
}

/// What the `settle` executable runs: `settle …`, or `kubectl settle …` when invoked as
/// `kubectl-settle`. Usage errors of `wait` exit 2 (brief §6: 0 done, 1 timeout, 2 error),
/// not ArgumentParser's 64.
public enum SettleLauncher {
    /// Whether this process runs as `kubectl-settle`: the tools then reach the aggregator through
    /// the API server by default (``AggregatorClient/defaultKubeURL``).
    static var isKubectlPlugin: Bool {
        URL(fileURLWithPath: CommandLine.arguments.first ?? "settle").lastPathComponent == "kubectl-settle"
    }

    public static func main() async {
        let rest = Array(CommandLine.arguments.dropFirst())
        if isKubectlPlugin {
            await run(KubectlCommand.self, rest)
        } else {
            await run(SettleCommand.self, rest)
        }
    }

    /// Parses and runs as `AsyncParsableCommand.main` does, mapping usage errors of `wait` to 2.
    static func run<Root: AsyncParsableCommand>(_ root: Root.Type, _ arguments: [String]) async {
        do {
            var command = try await Root.asyncParseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if arguments.first == WaitCommand.configuration.commandName, Root.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((Root.fullMessage(for: error) + "\n").utf8))
                Root.exit(withError: ExitCode(2))
            }
            Root.exit(withError: error)
        }
    }
}
