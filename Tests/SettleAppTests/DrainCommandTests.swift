import Foundation
import SettleAPIServer
import SettleKube
import Testing

/// `settle drain` (the built binary) against the stand-in API server with its EndpointSlice
/// controller, two stand-in agents and the real `settle aggregator` (``DrainCluster``).
@Suite(.serialized)
struct DrainCommandTests {
    static let annotation = "settle-project.github.io/drain"

    @Test("a pod in two Services: one label taken out of both, the slices drop it, every node drains it, then it is deleted with the grace period")
    func podInTwoServices() async throws {
        try await DrainCluster.with { cluster in
            let result = try await cluster.drain(["pod/web-1", "--grace-period", "7", "--timeout", "60s"]).finish()
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("selected by 2 Services: shop/web, shop/web-admin"), "\(result.stdout)")
            #expect(result.stdout.contains("changed its labels: app=web → app=settle-drained"), "\(result.stdout)")
            #expect(result.stdout.contains("orphaned and starts a replacement"), "\(result.stdout)")
            #expect(result.stdout.contains("node-a: drained") && result.stdout.contains("node-b: drained"), "\(result.stdout)")
            #expect(result.stdout.contains("deleted pod shop/web-1 with a grace period of 7s"), "\(result.stdout)")

            #expect(await cluster.pod("web-1") == nil)
            #expect(try await cluster.slicePods("web") == ["web-2"])
            #expect(try await cluster.slicePods("web-admin") == ["web-2"])
            #expect(await cluster.server.state.deletions.map(\.gracePeriodSeconds) == [7])
            // The label change came first, the delete last; nothing else was written.
            #expect(await cluster.writes() == ["PATCH /api/v1/namespaces/shop/pods/web-1", "DELETE /api/v1/namespaces/shop/pods/web-1"])
        }
    }

    @Test("a pod no Service selects is deleted at once, with a note, and nothing is relabelled")
    func podInNoService() async throws {
        try await DrainCluster.with { cluster in
            let result = try await cluster.drain(["pod/batch-1"]).finish()
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("no Service selects pod shop/batch-1"), "\(result.stdout)")
            #expect(!result.stdout.contains("waiting until"), "\(result.stdout)")
            #expect(await cluster.pod("batch-1") == nil)
            #expect(await cluster.writes() == ["DELETE /api/v1/namespaces/shop/pods/batch-1"])
            #expect(await cluster.server.state.deletions.map(\.gracePeriodSeconds) == [nil])
        }
    }

    @Test("a lagging node holds the delete back until it has seen the change; its progress is shown")
    func laggingNodeDelaysDelete() async throws {
        try await DrainCluster.with { cluster in
            await cluster.hold("node-b")
            let drain = try cluster.drain(["pod/web-1", "--timeout", "5m"])
            // The labels change and node-a drains the pod; node-b is behind, so the pod stays.
            try await cluster.eventually("node-b to be reported lagging") {
                drain.stdout.contains("node-b: behind") && drain.stdout.contains("node-a: drained")
            }
            #expect(drain.isRunning)
            #expect(await cluster.pod("web-1")?.metadata.labels?["app"] == "settle-drained")
            #expect(await cluster.server.state.deletions.isEmpty, "deleted while node-b still lagged: \(drain.stdout)")

            cluster.release("node-b")
            let result = try await drain.finish()
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("node-b: drained"), "\(result.stdout)")
            #expect(await cluster.pod("web-1") == nil)
        }
    }

    @Test("timeout: exit 1 naming the lagging node; the pod stays, relabelled and recorded; a second run resumes and deletes it")
    func timeoutLeavesPodThenResumes() async throws {
        try await DrainCluster.with { cluster in
            await cluster.hold("node-b")
            let result = try await cluster.drain(["pod/web-1", "--timeout", "2s"]).finish()
            #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
            let timeoutLine = result.stdout.split(separator: "\n").first { $0.contains("timeout after") } ?? ""
            #expect(timeoutLine.contains("node-b"), "\(result.stdout)")
            #expect(!timeoutLine.contains("node-a"), "\(result.stdout)")
            #expect(result.stdout.contains("left in place, not deleted"), "\(result.stdout)")

            let pod = try #require(await cluster.pod("web-1"))
            #expect(pod.metadata.labels?["app"] == "settle-drained")
            let record = try #require(pod.metadata.annotations?[Self.annotation])
            let decoded = try JSONSerialization.jsonObject(with: Data(record.utf8)) as? [String: Any]
            let app = (decoded?["labels"] as? [String: Any])?["app"] as? [String: String]
            #expect(app == ["from": "web", "to": "settle-drained"], "\(record)")
            #expect(decoded?["services"] as? [String] == ["shop/web", "shop/web-admin"], "\(record)")
            #expect(await cluster.server.state.deletions.isEmpty)

            cluster.release("node-b")
            let resumed = try await cluster.drain(["pod/web-1", "--timeout", "60s"]).finish()
            #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
            #expect(resumed.stdout.contains("resuming: settle drain changed its labels"), "\(resumed.stdout)")
            #expect(await cluster.pod("web-1") == nil)
            // One label change in all: the resumed run did not relabel again.
            #expect(await cluster.writes().filter { $0.hasPrefix("PATCH") }.count == 1)
        }
    }

    @Test("--undo puts the recorded labels back and removes the record; the pod rejoins its Services' slices")
    func undo() async throws {
        try await DrainCluster.with { cluster in
            await cluster.hold("node-b")
            let timedOut = try await cluster.drain(["pod/web-1", "--timeout", "1s"]).finish()
            #expect(timedOut.status == 1, "\(timedOut.stdout)\n\(timedOut.stderr)")
            #expect(try await cluster.slicePods("web") == ["web-2"])

            let result = try await cluster.drain(["--undo", "pod/web-1"]).finish()
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("restored app=web"), "\(result.stdout)")
            let pod = try #require(await cluster.pod("web-1"))
            #expect(pod.metadata.labels == ["app": "web", "role": "admin", "pod-template-hash": "7d9f"])
            #expect(pod.metadata.annotations?[Self.annotation] == nil)
            #expect(try await cluster.slicePods("web") == ["web-1", "web-2"])
            #expect(try await cluster.slicePods("web-admin") == ["web-1", "web-2"])

            let again = try await cluster.drain(["--undo", "pod/web-1"]).finish()
            #expect(again.status == 2, "\(again.stdout)\n\(again.stderr)")
            #expect(again.stderr.contains("carries no readable settle drain record"), "\(again.stderr)")
        }
    }

    @Test("--undo refuses labels changed since the drain, unless --force")
    func undoRefusesChangedLabels() async throws {
        try await DrainCluster.with { cluster in
            await cluster.hold("node-b")
            _ = try await cluster.drain(["pod/web-1", "--timeout", "1s"]).finish()
            var pod = try #require(await cluster.pod("web-1"))
            pod.metadata.labels?["app"] = "something-else"
            try await cluster.server.state.update(pod)

            let refused = try await cluster.drain(["--undo", "pod/web-1"]).finish()
            #expect(refused.status == 2, "\(refused.stdout)\n\(refused.stderr)")
            #expect(refused.stderr.contains("app is \"something-else\", not \"settle-drained\""), "\(refused.stderr)")
            #expect(await cluster.pod("web-1")?.metadata.labels?["app"] == "something-else")

            let forced = try await cluster.drain(["--undo", "--force", "pod/web-1"]).finish()
            #expect(forced.status == 0, "\(forced.stdout)\n\(forced.stderr)")
            #expect(await cluster.pod("web-1")?.metadata.labels?["app"] == "web")
        }
    }

    @Test("--dry-run prints the plan and changes nothing")
    func dryRun() async throws {
        try await DrainCluster.with { cluster in
            let before = try #require(await cluster.pod("web-1"))
            let result = try await cluster.drain(["pod/web-1", "--dry-run", "--grace-period", "3"]).finish()
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("would change its labels: app=web → app=settle-drained"), "\(result.stdout)")
            #expect(result.stdout.contains(#""labels":{"app":"settle-drained"}"#), "\(result.stdout)")
            #expect(result.stdout.contains("then delete it with a grace period of 3s"), "\(result.stdout)")
            #expect(result.stdout.contains("the aggregator (\(cluster.aggregatorURL)) now: waiting for 2 of 2 nodes"), "\(result.stdout)")
            let lonely = try await cluster.drain(["pod/batch-1", "--dry-run"]).finish()
            #expect(lonely.status == 0, "\(lonely.stdout)\n\(lonely.stderr)")
            #expect(lonely.stdout.contains("would delete it at once"), "\(lonely.stdout)")

            #expect(await cluster.writes() == [])
            #expect(await cluster.pod("web-1") == before)
            #expect(await cluster.pod("batch-1") != nil)
        }
    }

    @Test("the last ready endpoint of a Service is refused without --force, and nothing is changed")
    func lastReadyEndpoint() async throws {
        try await DrainCluster.with { cluster in
            let result = try await cluster.drain(["pod/solo-1"]).finish()
            #expect(result.status == 2, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stderr.contains("leaves shop/solo with no ready endpoint"), "\(result.stderr)")
            #expect(result.stderr.contains("--force"), "\(result.stderr)")
            #expect(await cluster.writes() == [])

            let forced = try await cluster.drain(["pod/solo-1", "--force", "--timeout", "60s"]).finish()
            #expect(forced.status == 0, "\(forced.stdout)\n\(forced.stderr)")
            #expect(forced.stderr.contains("warning: removing pod shop/solo-1 leaves shop/solo with no ready endpoint"), "\(forced.stderr)")
            #expect(await cluster.pod("solo-1") == nil)
        }
    }

    @Test("bad input: no such pod, a pod without an IP, already gone for --undo — exit 2, nothing written")
    func badInput() async throws {
        try await DrainCluster.with { cluster in
            let missing = try await cluster.drain(["pod/nope"]).finish()
            #expect(missing.status == 2)
            #expect(missing.stderr == "error: pod shop/nope not found\n", "\(missing.stderr)")

            let pending = try await cluster.drain(["pod/pending-1"]).finish()
            #expect(pending.status == 2)
            #expect(pending.stderr.contains("pod shop/pending-1 has no IP (phase Pending)"), "\(pending.stderr)")

            let undoMissing = try await cluster.drain(["--undo", "pod/nope"]).finish()
            #expect(undoMissing.status == 2)
            #expect(undoMissing.stderr.contains("not found: nothing to undo"), "\(undoMissing.stderr)")

            #expect(await cluster.writes() == [])
        }
    }

    @Test(
        "bad usage exits 64 before anything is asked",
        arguments: [
            ["deployment/web"], ["pod/Web"], ["pod/"], ["a/b/c"], ["pod/web-1", "--grace-period", "-1"],
            ["pod/web-1", "--timeout", "0s"], ["pod/web-1", "--timeout", "soon"], ["--undo", "pod/web-1", "--timeout", "5s"],
            ["--undo", "pod/web-1", "--grace-period", "3"], ["pod/web-1", "-n", "Shop"], [],
        ])
    func badUsage(arguments: [String]) async throws {
        // An API server that is never reached: usage errors come first.
        let result = try await SettleProcess.run(["drain"] + arguments + ["--server", "http://127.0.0.1:1"])
        #expect(result.status == 64, "\(arguments): \(result.stdout) \(result.stderr)")
        #expect(result.stderr.hasPrefix("Error: "), "\(result.stderr)")
    }

    @Test("kubectl settle drain is the same command")
    func kubectlPlugin() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-drain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let plugin = directory.appendingPathComponent("kubectl-settle").path
        try FileManager.default.createSymbolicLink(atPath: plugin, withDestinationPath: try CLITests.binary)
        let help = try await SettleProcess.run(["drain", "--help"], executable: plugin)
        #expect(help.status == 0, "\(help.stderr)")
        #expect(help.stdout.contains("USAGE: kubectl settle drain <pod/name>"), "\(help.stdout)")
    }
}
