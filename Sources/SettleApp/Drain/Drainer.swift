import Foundation
import SettleAggregation
import SettleKube
import SettleKubeClient
import Synchronization

/// Why a drain stopped with exit status 2; the message is one line for stderr.
struct DrainFailure: Error {
    var message: String
}

/// The steps of `settle drain` (and `--undo`) against the API server and the aggregator.
///
/// Each step is printed on stdout with its UTC time, so the output is the drain's log: what was found,
/// what was changed (and how to reverse it), each node's progress, what was deleted. The pod's
/// ``DrainRecord`` annotation is the same log kept in the cluster.
struct Drainer: Sendable {
    let kube: KubeClient
    let namespace: String
    let name: String
    let dryRun: Bool
    let force: Bool
    let aggregatorURL: String

    private var podText: String { "pod \(namespace)/\(name)" }
    private var podArgument: String { "pod/\(name) -n \(namespace)" }

    /// Runs the drain; returns the exit status (0 done, 1 timeout). Throws ``DrainFailure`` for status 2.
    func drain(timeout: Duration, gracePeriod: Int?) async throws(DrainFailure) -> Int32 {
        let pod = try await readPod()
        if let since = pod.metadata.deletionTimestamp {
            throw DrainFailure(
                message: "\(podText) is already being deleted (since \(since)); `settle wait --pod \(namespace)/\(name)` waits for its drain")
        }
        let ips = DrainPlan.ips(of: pod)
        guard !ips.isEmpty else {
            throw DrainFailure(
                message: "\(podText) has no IP (phase \(pod.status?.phase ?? "unknown")): no EndpointSlice can list it and nothing routes to it; "
                    + "there is nothing to drain — delete it with kubectl delete")
        }
        let labels = pod.metadata.labels ?? [:]
        let location = pod.spec?.nodeName.map { " on \($0)" } ?? ""
        step("\(podText) (\(ips.joined(separator: ", "))\(location))\(dryRun ? ", dry run: nothing will be changed" : "")")

        if let record = DrainRecord.read(from: pod), record.isApplied(to: labels) {
            step("resuming: settle drain changed its labels at \(record.at) (\(Self.changeText(record))); they still are")
            if dryRun {
                step("would wait for every node to drain it (timeout \(WaitReport.format(timeout))), then delete it\(Self.graceText(gracePeriod))")
                return 0
            }
        } else {
            let applied = try await relabel(pod, grace: gracePeriod, timeout: timeout)
            switch applied {
            case .deleted: return 0
            case .planned: return 0
            case .relabelled: break
            }
        }

        let outcome = await waitForDrain(timeout: timeout)
        switch outcome {
        case .done(let answer):
            step("drained on every counted node: \(answer.summary)\(WaitReport.uncounted(answer))")
        case .notAnEndpoint(let why):
            step("drained: the aggregator lists no endpoint of the pod (\(why)), so no node routes new connections to it")
        case .timedOut(let answer, let note):
            let lagging = answer.map(DrainProgress.lagging) ?? []
            let who = lagging.isEmpty ? (note ?? answer?.summary ?? "no answer") : "still routing to it or not heard from: " + lagging.joined(separator: ", ")
            step("timeout after \(WaitReport.format(timeout)): not drained on every node — \(who)")
            guard force else {
                step(
                    "left in place, not deleted; its labels stay changed (annotation \(DrainRecord.annotation)). "
                        + "Run `settle drain \(podArgument)` again to keep waiting, or `settle drain --undo \(podArgument)` to put the labels back")
                return 1
            }
            Terminal.warn("--force: deleting \(podText) although not every node has drained it")
            try await delete(pod, gracePeriod: gracePeriod)
            return 1
        case .failed(let why, _):
            throw DrainFailure(
                message: "cannot confirm the drain: \(why). \(podText) is not deleted; its labels stay changed: run the command again "
                    + "to resume, or `settle drain --undo \(podArgument)`")
        }
        try await delete(pod, gracePeriod: gracePeriod)
        return 0
    }

    /// Puts back the labels recorded in the pod's annotation and removes the annotation.
    func undo() async throws(DrainFailure) -> Int32 {
        let pod = try await readPod(missing: "nothing to undo (deleted already?)")
        guard let record = DrainRecord.read(from: pod) else {
            throw DrainFailure(message: "\(podText) carries no readable settle drain record (annotation \(DrainRecord.annotation)): nothing to undo")
        }
        let labels = pod.metadata.labels ?? [:]
        let changed = record.labels.filter { labels[$0.key] != $0.value.to }.sorted { $0.key < $1.key }
        if !changed.isEmpty {
            let text = changed.map { "\($0.key) is \(labels[$0.key].map { "\"\($0)\"" } ?? "unset"), not \"\($0.value.to)\"" }.joined(separator: "; ")
            guard force else {
                throw DrainFailure(message: "\(podText)'s labels changed since the drain (\(text)); --force puts the recorded values back anyway")
            }
            Terminal.warn("--force: \(text); putting the recorded values back anyway")
        }
        let restore = record.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.from)" }.joined(separator: ", ")
        let patch = Self.patchBody(
            resourceVersion: pod.metadata.resourceVersion, labels: record.labels.mapValues { $0.from }, annotation: nil)
        if dryRun {
            step("\(podText): would restore \(restore) and remove annotation \(DrainRecord.annotation) (merge patch: \(String(decoding: patch, as: UTF8.self)))")
            return 0
        }
        do {
            _ = try await kube.patch(V1Pod.self, namespace: namespace, name: name, patch: patch, type: .merge)
        } catch {
            throw failure(error, doing: "restore the labels of \(podText)")
        }
        step(
            "\(podText): restored \(restore), removed annotation \(DrainRecord.annotation); it is back in the Services that select it "
                + "(\(record.services.joined(separator: ", "))). If its controller adopts it again, it may now have one pod too many and remove one")
        return 0
    }

    // MARK: Steps

    private enum Relabel { case relabelled, deleted, planned }

    /// Plans and applies the label change; a pod in no Service is deleted here.
    private func relabel(_ first: V1Pod, grace: Int?, timeout: Duration) async throws(DrainFailure) -> Relabel {
        var pod = first
        for attempt in 1...3 {
            let services: [V1Service]
            let slices: [V1EndpointSlice]
            do {
                services = try await kube.listAll(V1Service.self, selection: .init(namespace: namespace)).items
                slices = try await kube.listAll(V1EndpointSlice.self, selection: .init(namespace: namespace)).items
            } catch {
                throw failure(error, doing: "list the Services and EndpointSlices of namespace \(namespace)")
            }
            let plan = DrainPlan(pod: pod, services: services, slices: slices)
            if plan.services.isEmpty {
                step("no Service selects \(podText): no Service routes new connections to it, so there is nothing to wait for")
                if dryRun {
                    step("would delete it at once\(Self.graceText(grace))")
                    return .planned
                }
                try await delete(pod, gracePeriod: grace)
                return .deleted
            }
            step("selected by \(plan.services.count) Service\(plan.services.count == 1 ? "" : "s"): \(plan.services.joined(separator: ", "))")
            if !plan.lastReadyIn.isEmpty {
                let text = "removing \(podText) leaves \(plan.lastReadyIn.joined(separator: ", ")) with no ready endpoint (its EndpointSlices list no other)"
                guard force else { throw DrainFailure(message: "\(text); --force drains it anyway") }
                Terminal.warn("\(text); draining anyway (--force)")
            }
            let record = DrainRecord(labels: plan.changes, services: plan.services, at: Date().ISO8601Format())
            let patch = Self.patchBody(
                resourceVersion: pod.metadata.resourceVersion, labels: plan.changes.mapValues(\.to), annotation: record.encoded)
            if dryRun {
                step("would change its labels: \(plan.changeText), recording the originals in annotation \(DrainRecord.annotation)")
                step("would send: PATCH (application/merge-patch+json) \(String(decoding: patch, as: UTF8.self))")
                step("its controller would see it as orphaned (if its selector uses \(plan.changes.keys.sorted().joined(separator: ", "))) and start a replacement")
                step("would wait for every node to drain it (timeout \(WaitReport.format(timeout))), then delete it\(Self.graceText(grace))")
                await describeAggregatorView()
                return .planned
            }
            do {
                _ = try await kube.patch(V1Pod.self, namespace: namespace, name: name, patch: patch, type: .merge)
                step(
                    "changed its labels: \(plan.changeText) (originals in annotation \(DrainRecord.annotation)); it leaves "
                        + "\(plan.services.joined(separator: ", ")). Its controller, if its selector uses "
                        + "\(plan.changes.keys.sorted().joined(separator: ", ")), now sees it as orphaned and starts a replacement — that is the point")
                step("interrupted from here on? `settle drain \(podArgument)` resumes, `settle drain --undo \(podArgument)` puts the labels back")
                return .relabelled
            } catch let error as KubeClientError where error.httpCode == 409 && attempt < 3 {
                step("\(podText) changed while planning (409 Conflict); reading it again")
                pod = try await readPod()
            } catch {
                throw failure(error, doing: "change the labels of \(podText)")
            }
        }
        throw DrainFailure(message: "\(podText) kept changing while its labels were being changed (409 three times); try again")
    }

    /// Long-polls the aggregator, printing each node's state as it changes.
    private func waitForDrain(timeout: Duration) async -> WaitOutcome {
        let client: AggregatorClient
        do {
            client = try AggregatorClient(url: aggregatorURL)
        } catch {
            return .failed("\(error)", last: nil)
        }
        step("waiting until no node routes new connections to it (aggregator \(client.baseURL), timeout \(WaitReport.format(timeout)))")
        let known = (try? await client.nodes(timeout: .seconds(5)).nodes.map(\.node)) ?? []
        let progress = Mutex(DrainProgress(known: known))
        let clock = ContinuousClock()
        let start = clock.now
        let show: @Sendable (WaitAnswer) -> Void = { answer in
            let lines = progress.withLock { $0.update(answer) }
            let elapsed = WaitReport.format(start.duration(to: clock.now))
            Self.emit(lines.map { "  [\(elapsed)] \($0)" })
        }
        let outcome = await client.wait(for: .pod(namespace: namespace, name: name), until: .drained, timeout: timeout) { update in
            switch update {
            case .answer(let answer): show(answer)
            case .retrying(let why): Self.emit(["  [\(WaitReport.format(start.duration(to: clock.now)))] retrying: \(why)"])
            }
        }
        if case .done(let answer) = outcome { show(answer) }
        await client.shutdown()
        return outcome
    }

    /// Deletes the pod, only if it is still the pod that was drained (its UID).
    private func delete(_ pod: V1Pod, gracePeriod: Int?) async throws(DrainFailure) {
        do {
            try await kube.delete(
                V1Pod.self, namespace: namespace, name: name, options: DeleteOptions(gracePeriodSeconds: gracePeriod, uid: pod.metadata.uid))
            step("deleted \(podText)\(Self.graceText(gracePeriod))")
        } catch let error as KubeClientError where error.httpCode == 404 {
            step("\(podText) is gone already; nothing to delete")
        } catch let error as KubeClientError where error.httpCode == 409 {
            throw DrainFailure(message: "\(podText) is no longer the pod that was drained (its UID changed: \(error)); not deleted")
        } catch {
            throw failure(error, doing: "delete \(podText)")
        }
    }

    /// In a dry run: what the aggregator says of the pod now (informational; failures are only noted).
    private func describeAggregatorView() async {
        guard let client = try? AggregatorClient(url: aggregatorURL) else { return }
        do {
            let answer = try await client.answer(.pod(namespace: namespace, name: name), for: .drained, wait: nil, timeout: .seconds(5))
            step("the aggregator (\(client.baseURL)) now: \(answer.summary)")
        } catch {
            step("the aggregator (\(client.baseURL)) could not be asked now: \(error)")
        }
        await client.shutdown()
    }

    private func readPod(missing: String = "") async throws(DrainFailure) -> V1Pod {
        do {
            return try await kube.get(V1Pod.self, namespace: namespace, name: name)
        } catch let error as KubeClientError where error.httpCode == 404 {
            throw DrainFailure(message: "\(podText) not found\(missing.isEmpty ? "" : ": \(missing)")")
        } catch {
            throw failure(error, doing: "read \(podText)")
        }
    }

    // MARK: Output and helpers

    private func failure(_ error: any Error, doing what: String) -> DrainFailure {
        if let error = error as? KubeClientError {
            switch error.httpCode {
            case 401: return DrainFailure(message: "cannot \(what): \(error) (the credentials were refused)")
            case 403:
                return DrainFailure(
                    message: "cannot \(what): \(error). settle drain needs get, patch and delete on pods, and list on services "
                        + "and endpointslices (docs/tools.md)")
            default: return DrainFailure(message: "cannot \(what): \(error)")
            }
        }
        return DrainFailure(message: "cannot \(what): API server at \(kube.configuration.server): \(AggregatorClient.explain(error))")
    }

    private func step(_ text: String) { Self.emit(["\(Date().ISO8601Format())  \(text)"]) }

    private static func emit(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8))
    }

    private static func graceText(_ grace: Int?) -> String {
        grace.map { " with a grace period of \($0)s" } ?? " (grace period: the pod's own)"
    }

    private static func changeText(_ record: DrainRecord) -> String {
        record.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.from) → \($0.key)=\($0.value.to)" }.joined(separator: ", ")
    }

    /// A merge patch of labels and the drain annotation (nil removes it), guarded by the resourceVersion read.
    static func patchBody(resourceVersion: String?, labels: [String: String], annotation: String?) -> Data {
        var metadata: [String: Any] = [
            "labels": labels,
            "annotations": [DrainRecord.annotation: annotation.map { $0 as Any } ?? NSNull()],
        ]
        if let resourceVersion { metadata["resourceVersion"] = resourceVersion }
        return (try? JSONSerialization.data(withJSONObject: ["metadata": metadata], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    }
}
