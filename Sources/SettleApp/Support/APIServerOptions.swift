import ArgumentParser
import SettleKubeClient

/// How a daemon reaches the API server: `--server` (no credentials: tests, the lab), or a
/// kubeconfig, or the in-cluster service account. Shared by `settle agent` and `settle aggregator`.
struct APIServerOptions: ParsableArguments {
    @Option(help: "API server URL to use without credentials (tests, the lab). Default: in-cluster, else $KUBECONFIG or ~/.kube/config.")
    var server: String?

    @Option(help: "kubeconfig file to use instead of the in-cluster service account.")
    var kubeconfig: String?

    @Option(help: "kubeconfig context.")
    var context: String?

    /// The client configuration these options name; a one-line error when it cannot be made.
    func clientConfiguration(environment: [String: String]) throws -> KubeClientConfiguration {
        do {
            if let server { return KubeClientConfiguration(server: server) }
            return try KubeConfigLoader.load(explicitPath: kubeconfig, context: context, environment: environment)
        } catch {
            throw Terminal.failure("cannot configure the API client: \(error)")
        }
    }
}
