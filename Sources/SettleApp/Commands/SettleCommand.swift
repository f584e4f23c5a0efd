public import ArgumentParser

/// The `settle` command: one binary for the node agent, the aggregator and the operator tools.
public struct SettleCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "settle",
        abstract: "Tells when every node has stopped sending new connections to a pod.",
        discussion: """
            Settle reads each node's real kube-proxy dataplane (nftables, iptables) and compares it \
            with what kube-proxy should have programmed from Services and EndpointSlices.

            Start with `settle dataplane` on a node (as root) to see what its dataplane routes.
            """,
        version: SettleVersion.current,
        subcommands: [
            DataplaneCommand.self, DesiredCommand.self, CheckCommand.self, AgentCommand.self, AggregatorCommand.self, BenchCommand.self,
            WaitCommand.self, DrainSidecarCommand.self, StatusCommand.self, LabCommand.self, LabBackendCommand.self, LabClientCommand.self,
            DrainCommand.self,
        ]
    )

    public init() {}
}

/// The release this binary was built from.
public enum SettleVersion {
    public static let current = "0.1.0-dev"
}
