import SettleKube
import SettleKubeClient

/// Runs an informer and records every event it emits, for tests to wait on and inspect.
actor EventRecorder<T: KubeObject> {
    private(set) var events: [InformerEvent<T>] = []

    func append(_ event: InformerEvent<T>) { events.append(event) }

    /// Events after the first `.synced`.
    var afterSync: [InformerEvent<T>] {
        guard let index = events.firstIndex(of: .synced) else { return [] }
        return Array(events[(index + 1)...])
    }

    var hasSynced: Bool { events.contains(.synced) }
}

/// Starts `informer` and a recorder of its events, runs `body`, then stops both.
func withInformer<T: KubeObject, R: Sendable>(
    _ informer: Informer<T>, _ body: (EventRecorder<T>) async throws -> R
) async throws -> R {
    let recorder = EventRecorder<T>()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await informer.run() }
        group.addTask {
            for await event in informer.events { await recorder.append(event) }
        }
        defer { group.cancelAll() }
        try await eventually("informer synced") { await recorder.hasSynced }
        return try await body(recorder)
    }
}
