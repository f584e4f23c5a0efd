import ArgumentParser
import Foundation
import SettleKubeClient

/// `settle drain pod/NAME`: takes a pod out of its Services, waits until every node has stopped routing
/// new connections to it, then deletes it.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Takes a pod out of its Services, waits until no node routes new connections to it, then deletes it.",
        discussion: """
            The safe order for removing a pod, as one command:
              1. find every Service whose selector matches the pod, and change one label that is in \
            each of those selectors (value settle-drained); the original values are recorded in the \
            pod's annotation \(DrainRecord.annotation). The pod leaves every Service's EndpointSlices. \
            Its controller (ReplicaSet, …), if its selector uses that label too, sees it as orphaned and \
            starts a replacement — that is the point: the replacement comes up while this pod still runs.
              2. wait through the aggregator until the pod is drained on every counted node, showing \
            each node's progress;
              3. delete the pod (with --grace-period, else its own terminationGracePeriodSeconds).
            A pod no Service selects is deleted at once. A pod whose removal would leave a Service with \
            no ready endpoint is refused unless --force.

            Every step is printed with its time. An interrupted drain leaves the labels changed and \
            recorded: run the same command again to resume it (wait, then delete), or \
            `settle drain --undo pod/NAME` to put the labels back.

            Exit status:
              0  drained on every counted node and deleted (or: deleted at once, nothing to wait for; \
            --dry-run; --undo done)
              1  timeout: not drained by --timeout; the pod is left in place with its labels changed and \
            recorded, the lagging nodes named (with --force it is deleted anyway, and the exit status is still 1)
              2  error: no such pod, a pod without an IP or already being deleted, a Service that would \
            be left without ready endpoints (without --force), the API server or the aggregator failing
              64 bad usage

            The API server is reached with --server, else --kubeconfig/$KUBECONFIG/~/.kube/config \
            (--context), else the in-cluster service account; the namespace defaults to the context's. \
            RBAC needed: get, patch, delete on pods; list on services; list on endpointslices \
            (discovery.k8s.io); for a kube:// aggregator URL, get on services/proxy in its namespace.
            """)

    @Argument(help: ArgumentHelp("The pod: pod/NAME (or NAME).", valueName: "pod/name"))
    var pod: String

    @Option(name: [.short, .long], help: "The pod's namespace. (default: the kubeconfig context's, else default)")
    var namespace: String?

    @Option(help: "How long to wait for every node to drain the pod (e.g. 30s, 2m). (default: 60s)")
    var timeout: DurationArgument?

    @Option(help: "Seconds the pod gets to shut down once deleted. (default: the pod's terminationGracePeriodSeconds)")
    var gracePeriod: Int?

    @Flag(help: "Print what would be changed, change nothing.")
    var dryRun = false

    @Flag(help: "Go on where it would stop: a Service left without ready endpoints; a timeout (delete anyway); --undo over labels changed since.")
    var force = false

    @Flag(help: "Put back the labels a drain changed (from the pod's annotation) and remove the annotation.")
    var undo = false

    @Option(help: "The aggregator's URL. (default: $SETTLE_AGGREGATOR, else \(AggregatorClient.defaultURL))")
    var aggregator: String?

    @OptionGroup(title: "API server")
    var api: APIServerOptions

    /// The pod's name from `pod/NAME`, `pods/NAME`, `po/NAME` or `NAME`; nil when not a pod.
    static func podName(_ argument: String) -> String? {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let name: String
        switch parts.count {
        case 1: name = parts[0]
        case 2 where ["pod", "pods", "po"].contains(parts[0].lowercased()): name = parts[1]
        default: return nil
        }
        return isObjectName(name) ? name : nil
    }

    /// A DNS subdomain: lowercase letters, digits, `-` and `.`, alphanumeric at both ends, at most 253.
    static func isObjectName(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253, let first = text.first, let last = text.last,
            first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else { return false }
        return text.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "." }
    }

    func validate() throws {
        guard Self.podName(pod) != nil else {
            throw ValidationError("expected pod/NAME (a pod's name: lowercase letters, digits, '-' and '.'), got \"\(pod)\"")
        }
        if let namespace, !Self.isObjectName(namespace) || namespace.contains(".") {
            throw ValidationError("--namespace must be a namespace name, got \"\(namespace)\"")
        }
        if let timeout, timeout.duration <= .zero { throw ValidationError("--timeout must be more than 0") }
        if let gracePeriod, gracePeriod < 0 { throw ValidationError("--grace-period must be 0 or more seconds") }
        if undo, timeout != nil || gracePeriod != nil {
            throw ValidationError("--undo puts labels back and deletes nothing: it takes no --timeout or --grace-period")
        }
    }

    func run() async throws {
        let configuration = try api.clientConfiguration(environment: ProcessInfo.processInfo.environment)
        let namespace = self.namespace ?? configuration.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let kube: KubeClient
        do {
            kube = try KubeClient(configuration: configuration)
        } catch {
            throw Terminal.failure("cannot configure the API client: \(error)")
        }
        let drainer = Drainer(
            kube: kube, namespace: namespace, name: Self.podName(pod)!, dryRun: dryRun, force: force,
            aggregatorURL: AggregatorClient.url(flag: aggregator))
        var status: Int32 = 2
        var failure: DrainFailure?
        do throws(DrainFailure) {
            status = undo ? try await drainer.undo() : try await drainer.drain(timeout: timeout?.duration ?? .seconds(60), gracePeriod: gracePeriod)
        } catch {
            failure = error
        }
        try? await kube.shutdown()
        if let failure { throw Terminal.failure(failure.message) }
        if status != 0 { throw ExitCode(status) }
    }
}
