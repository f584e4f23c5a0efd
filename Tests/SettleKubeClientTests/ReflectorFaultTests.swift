import Foundation
import SettleAPIServer
import SettleKube
import SettleKubeClient
import Testing

/// The reflector survives what real API servers and networks do: expiry, cuts, errors, hangs, rotation.
struct ReflectorFaultTests {
    /// An `ERROR` event with a 410 Status makes the informer relist and report only real differences.
    @Test("410 as an ERROR event: relist with updates, adds and inferred deletes, nothing for unchanged objects")
    func goneErrorEvent() async throws {
        try await goneScenario(.errorEvent)
    }

    /// An HTTP 410 answer to the watch request does the same.
    @Test("410 as an HTTP status: relist with the same deltas")
    func goneHTTPStatus() async throws {
        try await goneScenario(.httpStatus)
    }

    private func goneScenario(_ mode: APIServerState.GoneMode) async throws {
        try await withStandIn(.testing(goneMode: mode)) { server, port in
            let state = server.state
            try await state.create(Widget("ns", "keep"))
            var change = try await state.create(Widget("ns", "change", spec: ["v": "1"]))
            let gone = try await state.create(Widget("ns", "gone"))
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client))
                try await withInformer(informer) { recorder in
                    try await eventually("watch open") { await state.watchCount == 1 }
                    // The next watch hangs until released; meanwhile things change and history is compacted.
                    await state.inject(Fault(.hang, target: .watch))
                    await state.closeAllWatches()
                    try await eventually("reconnect hung") { await state.pendingFaults.isEmpty }
                    let old = change
                    change.spec = ["v": "2"]
                    let changed = try await state.update(change)
                    try await state.delete(Widget.self, namespace: "ns", name: "gone")
                    let added = try await state.create(Widget("ns", "new"))
                    await state.compact()
                    await state.releaseHangs()
                    let expected: [InformerEvent<Widget>] = [
                        .updated(old: old, new: changed), .added(added), .deleted(gone, finalStateUnknown: true),
                    ]
                    try await eventually("relist deltas") { await recorder.afterSync.count >= expected.count }
                    #expect(informer.counters.snapshot.goneRelists == 1)
                    #expect(informer.counters.snapshot.lists == 2)
                    // Sorted by key (change, keep, new), then deletions; `keep` is unchanged and emits nothing.
                    #expect(await recorder.afterSync == expected)
                    #expect(await informer.objects.map(\.key) == ["ns/change", "ns/keep", "ns/new"])
                    // Watching resumes after the relist.
                    let later = try await state.create(Widget("ns", "later"))
                    try await eventually("later") { await recorder.afterSync.last == .added(later) }
                }
            }
        }
    }

    /// A continue token that expires between pages (410) makes the reflector list again without paging.
    @Test("expired continue token: the list restarts unpaginated and the snapshot is complete")
    func expiredContinueToken() async throws {
        try await withStandIn { server, port in
            let state = server.state
            for index in 0..<5 { try await state.create(Widget("ns", "w\(index)")) }
            // First page answers normally; the second hangs while history is compacted under it.
            await state.inject(Fault(.delay(.zero), target: .list))
            await state.inject(Fault(.hang, target: .list))
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client, pageSize: 2))
                let recorder = EventRecorder<Widget>()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await informer.run() }
                    group.addTask { for await event in informer.events { await recorder.append(event) } }
                    defer { group.cancelAll() }
                    try await eventually("second page hung") { await state.pendingFaults.isEmpty }
                    try await state.create(Widget("ns", "w5"))
                    await state.compact()
                    await state.releaseHangs()
                    try await eventually("synced") { await recorder.hasSynced }
                    #expect(await informer.objects.count == 6)
                    let lists = await state.recordedRequests.filter { !$0.isWatch && $0.path.hasSuffix("/widgets") }
                    #expect(lists.map { $0.query["limit"] } == ["2", "2", nil])
                    #expect(informer.counters.snapshot.lists == 1)
                }
            }
        }
    }

    /// A watch cut after half a line loses nothing and duplicates nothing: the client resumes from the last whole event.
    @Test("disconnect mid-event: reconnect from the last RV with no lost or duplicated event")
    func cutMidEvent() async throws {
        try await withStandIn { server, port in
            let state = server.state
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client))
                try await withInformer(informer) { recorder in
                    try await eventually("watch open") { await state.watchCount == 1 }
                    await state.inject(Fault(.cutWatch(afterEvents: 1), target: .watch))
                    await state.closeAllWatches()
                    try await eventually("cutting watch open") {
                        let faults = await state.pendingFaults
                        let watches = await state.watchCount
                        return faults.isEmpty && watches == 1
                    }
                    var created: [Widget] = []
                    for index in 0..<4 { created.append(try await state.create(Widget("ns", "w\(index)"))) }
                    try await eventually("all four") { await recorder.afterSync.count >= 4 }
                    // Give a duplicate the chance to show up, then check there is none.
                    let marker = try await state.create(Widget("ns", "marker"))
                    try await eventually("marker") { await recorder.afterSync.last == .added(marker) }
                    #expect(await recorder.afterSync == (created + [marker]).map { .added($0) })
                    #expect(informer.counters.snapshot.failures >= 1)
                    let watches = await state.recordedRequests.filter(\.isWatch)
                    // The resumed watch starts from w0's RV, the last whole event before the cut.
                    #expect(watches.map { $0.query["resourceVersion"] }.contains(created[0].metadata.resourceVersion))
                }
            }
        }
    }

    /// 500s are retried with backoff until the server recovers.
    @Test("500 responses: backoff, retry, then recovery")
    func serverErrors() async throws {
        try await withStandIn { server, port in
            let state = server.state
            let existing = try await state.create(Widget("ns", "w"))
            await state.inject(Fault(.status(500), target: .list), count: 3)
            await state.inject(Fault(.status(503), target: .watch), count: 2)
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client))
                try await withInformer(informer) { recorder in
                    #expect(await informer.objects == [existing])
                    try await eventually("watching") { await state.watchCount == 1 }
                    let later = try await state.create(Widget("ns", "later"))
                    try await eventually("later") { await recorder.afterSync == [.added(later)] }
                    #expect(informer.counters.snapshot.failures == 5)
                    #expect(await state.pendingFaults.isEmpty)
                }
            }
        }
    }

    /// A server that never answers, or goes silent mid-watch, is timed out and the client reconnects.
    @Test("hung server: request and idle timeouts, then reconnect from the last RV")
    func hungServer() async throws {
        try await withStandIn { server, port in
            let state = server.state
            await state.inject(Fault(.hang, target: .list))
            try await withClient(port: port, requestTimeout: .milliseconds(500), idleTimeout: .milliseconds(500)) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client))
                try await withInformer(informer) { recorder in
                    #expect(informer.counters.snapshot.timeouts >= 1)
                    try await eventually("watching") { await state.watchCount == 1 }
                    let first = try await state.create(Widget("ns", "first"))
                    try await eventually("first") { await recorder.afterSync == [.added(first)] }
                    await state.inject(Fault(.stallAfterHeaders, target: .watch))
                    await state.closeAllWatches()
                    try await eventually("idle timeout") { informer.counters.snapshot.timeouts >= 2 }
                    let second = try await state.create(Widget("ns", "second"))
                    try await eventually("second") { await recorder.afterSync == [.added(first), .added(second)] }
                    let watches = await state.recordedRequests.filter(\.isWatch)
                    #expect(watches.last?.query["resourceVersion"] == first.metadata.resourceVersion)
                }
                await state.releaseHangs()
            }
        }
    }

    /// Bookmarks move the resume point forward even when nothing the client selects changes.
    @Test("bookmarks advance the resourceVersion the next watch resumes from")
    func bookmarksAdvance() async throws {
        try await withStandIn(.testing(bookmarkInterval: .milliseconds(50))) { server, port in
            let state = server.state
            try await withClient(port: port) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client))
                try await withInformer(informer) { recorder in
                    try await eventually("watch open") { await state.watchCount == 1 }
                    // Changes to another kind move the global RV; only a bookmark can tell the widget watcher.
                    try await state.create(Gadget("g1"))
                    try await state.create(Gadget("g2"))
                    let target = await state.resourceVersion
                    try await eventually("bookmark at \(target)") { await informer.resourceVersion == target }
                    #expect(informer.counters.snapshot.bookmarks >= 1)
                    await state.closeAllWatches()
                    try await eventually("resumed") {
                        await state.recordedRequests.filter(\.isWatch).last?.query["resourceVersion"] == target
                    }
                    #expect(await recorder.afterSync.isEmpty)
                }
            }
        }
    }

    /// A rotated token file is read again: the next request carries the new token.
    @Test("token rotation: after the token file changes, the next request uses the new token")
    func tokenRotation() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tokenPath = directory.appendingPathComponent("token").path
        try "first-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)

        try await withStandIn(.testing(acceptedBearerTokens: ["first-token"])) { server, port in
            let state = server.state
            try await withClient(port: port, credentials: .bearerTokenFile(path: tokenPath)) { client in
                let informer = Informer(reflector: makeReflector(Widget.self, client: client))
                try await withInformer(informer) { recorder in
                    try await eventually("watch open") { await state.watchCount == 1 }
                    try "second-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
                    await state.setAcceptedBearerTokens(["second-token"])
                    await state.closeAllWatches()
                    try await eventually("watch reopened") { await state.watchCount == 1 }
                    let created = try await state.create(Widget("ns", "after-rotation"))
                    try await eventually("event") { await recorder.afterSync == [.added(created)] }
                    let requests = await state.recordedRequests
                    #expect(requests.first?.authorization == "Bearer first-token")
                    #expect(requests.last?.authorization == "Bearer second-token")
                    #expect(informer.counters.snapshot.failures == 0)
                }
            }
        }
    }
}
