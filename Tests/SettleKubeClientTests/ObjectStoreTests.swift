import SettleKube
import SettleKubeClient
import Testing

/// The informer's pure cache: deltas from watch events and from relists.
struct ObjectStoreTests {
    private func widget(_ name: String, rv: String, value: String = "a") -> Widget {
        var widget = Widget("ns", name, spec: ["v": value])
        widget.metadata.resourceVersion = rv
        return widget
    }

    /// A relist reports adds, updates and inferred deletes, and nothing for unchanged objects.
    @Test("relist: new keys add, changed objects update, missing keys delete, unchanged emit nothing")
    func relistDeltas() {
        var store = ObjectStore<Widget>()
        let a = widget("a", rv: "1"), b = widget("b", rv: "2"), c = widget("c", rv: "3")
        #expect(store.apply(.replaced([c, a, b], resourceVersion: "3")) == [.added(a), .added(b), .added(c)])
        let b2 = widget("b", rv: "5", value: "changed"), d = widget("d", rv: "6")
        #expect(store.apply(.replaced([d, b2, a], resourceVersion: "6")) == [
            .updated(old: b, new: b2), .added(d), .deleted(c, finalStateUnknown: true),
        ])
        #expect(store.apply(.replaced([a, b2, d], resourceVersion: "7")) == [])
    }

    /// Watch events map to cache changes; repeated or unknown ones emit nothing.
    @Test("watch events: duplicates and deletes of unknown objects emit nothing")
    func watchEvents() {
        var store = ObjectStore<Widget>()
        let a = widget("a", rv: "1"), a2 = widget("a", rv: "2", value: "b")
        #expect(store.apply(.added(a)) == [.added(a)])
        #expect(store.apply(.added(a)) == [])
        #expect(store.apply(.modified(a2)) == [.updated(old: a, new: a2)])
        #expect(store.apply(.bookmark(resourceVersion: "9")) == [])
        #expect(store.apply(.deleted(a2)) == [.deleted(a2, finalStateUnknown: false)])
        #expect(store.apply(.deleted(a2)) == [])
        #expect(store.apply(.modified(a)) == [.added(a)])
    }
}
