import Foundation
public import SettleKube

/// The live state of a stand-in API server: objects, watchers, faults, auth and a request log.
///
/// An actor because HTTP handlers and test code touch it concurrently. Every change goes through
/// ``ResourceStore`` and is handed to each matching watcher inside the same actor turn, so watchers
/// see changes in resourceVersion order with no gaps.
public actor APIServerState {
    /// How an expired resourceVersion is reported to a watch request.
    public enum GoneMode: Sendable {
        /// `200 OK` carrying one `ERROR` event whose object is a `Status` with code 410 (what the watch cache does).
        case errorEvent
        /// An HTTP `410 Gone` response with a `Status` body.
        case httpStatus
    }

    private struct Watcher {
        var filter: WatchFilter
        var continuation: AsyncStream<WatchEventLine>.Continuation
    }

    private var store: ResourceStore
    private(set) var resources: [APIResource]
    private var watchers: [Int: Watcher] = [:]
    private var nextWatcherID = 0
    private var faults: [Fault] = []
    private var paginations: [(token: String, resourceVersion: Int64, remaining: [JSONValue])] = []
    private var nextPaginationID = 0
    private var requests: [RecordedRequest] = []
    private var hangsReleased = false
    private var listeningPort: Int?
    /// The RV up to which changes have been handed to watchers.
    private var broadcastRevision: Int64

    /// How expired resourceVersions are reported to watches.
    public var goneMode: GoneMode
    /// How often watches with `allowWatchBookmarks=true` get a `BOOKMARK`.
    public var bookmarkInterval: Duration
    /// When set, requests must carry `Authorization: Bearer <one of these>`; otherwise `401`.
    public var acceptedBearerTokens: Set<String>?
    /// Upper bound on a ``Fault/Action/hang``, so a forgotten hang cannot keep a test process alive.
    public var hangLimit: Duration
    /// Whether pod writes move the pod in and out of its Services' EndpointSlices (``syncSlices(forPodIn:named:)``).
    public private(set) var endpointSliceController: Bool
    private var deletionLog: [Deletion] = []
    /// The tokens the TokenReview API knows.
    private(set) var tokenIdentities: [String: TokenIdentity] = [:]

    init(configuration: APIServerConfiguration) {
        store = ResourceStore(historyLimit: configuration.historyLimit)
        resources = configuration.resources
        goneMode = configuration.goneMode
        bookmarkInterval = configuration.bookmarkInterval
        acceptedBearerTokens = configuration.acceptedBearerTokens
        hangLimit = configuration.hangLimit
        endpointSliceController = configuration.endpointSliceController
        broadcastRevision = store.resourceVersion
    }

    // MARK: Test-facing API

    /// The last resourceVersion handed out.
    public var resourceVersion: String { String(store.resourceVersion) }

    /// Creates a typed object; returns it as stored (uid, resourceVersion, generation filled in).
    @discardableResult
    /// Creates a typed object; returns it as stored (uid, resourceVersion, generation filled in).
    public func create<T: KubeObject>(_ object: T) throws -> T {
        try decode(create(json: JSONValue.from(object), in: resource(for: T.self)))
    }

    /// Replaces a typed object unconditionally (its resourceVersion is ignored).
    @discardableResult
    public func update<T: KubeObject>(_ object: T) throws -> T {
        try decode(update(json: JSONValue.from(object), in: resource(for: T.self), checkResourceVersion: false))
    }

    /// Deletes an object by namespace and name.
    @discardableResult
    public func delete<T: KubeObject>(_ type: T.Type, namespace: String? = nil, name: String) throws -> T {
        try decode(delete(in: resource(for: T.self), namespace: namespace, name: name))
    }

    /// Reads one typed object as stored.
    public func get<T: KubeObject>(_ type: T.Type, namespace: String? = nil, name: String) throws -> T {
        try decode(get(resource(for: T.self), namespace: namespace, name: name))
    }

    /// Creates an object given as JSON.
    @discardableResult
    public func create(json: JSONValue, in resource: APIResource) throws(StoreError) -> JSONValue {
        let object = try store.create(registered(resource), json, now: Date())
        if resource.id == APIResource.pods.id { syncSlices(for: object) }
        broadcast()
        return object
    }

    /// Creates an object given as JSON, choosing the resource by its `apiVersion` and `kind` (for seeding the lab
    /// from `kubectl get -o json` output); an unserved kind is a 400.
    @discardableResult
    public func create(json: JSONValue) throws(StoreError) -> JSONValue {
        let apiVersion = json.string(atPath: "apiVersion") ?? "", kind = json.string(atPath: "kind") ?? ""
        guard let resource = resources.first(where: { $0.groupVersion == apiVersion && $0.kind == kind }) else {
            throw .badRequest("no resource serves apiVersion \(apiVersion) kind \(kind)")
        }
        return try create(json: json, in: resource)
    }

    /// Replaces an object given as JSON; with `checkResourceVersion` a stale RV is a 409 conflict.
    @discardableResult
    public func update(json: JSONValue, in resource: APIResource, checkResourceVersion: Bool) throws(StoreError) -> JSONValue {
        let object = try store.update(registered(resource), json, checkResourceVersion: checkResourceVersion)
        if resource.id == APIResource.pods.id { syncSlices(for: object) }
        broadcast()
        return object
    }

    /// Deletes an object. `options` is a `DeleteOptions` body: its `preconditions` (uid, resourceVersion) must
    /// hold (409 otherwise) and its `gracePeriodSeconds` is recorded in ``deletions``. The stand-in has no
    /// kubelet, so a pod goes at once whatever its grace period.
    @discardableResult
    public func delete(in resource: APIResource, namespace: String?, name: String, options: JSONValue? = nil) throws(StoreError)
        -> JSONValue
    {
        let resource = registered(resource)
        if let current = store.get(resource, namespace: namespace, name: name) {
            for field in ["uid", "resourceVersion"] {
                guard let wanted = options?.string(atPath: "preconditions.\(field)") else { continue }
                let actual = current.string(atPath: "metadata.\(field)") ?? ""
                guard wanted == actual else {
                    throw .preconditionFailed("Precondition failed: \(field) in precondition: \(wanted), \(field) in object meta: \(actual)")
                }
            }
        }
        let object = try store.delete(resource, namespace: namespace, name: name)
        let grace = options?["gracePeriodSeconds"]?.intValue.map(Int.init)
        deletionLog.append(Deletion(resource: resource.resource, namespace: namespace, name: name, gracePeriodSeconds: grace))
        if resource.id == APIResource.pods.id { syncSlices(forPodIn: namespace ?? "default", named: name) }
        broadcast()
        return object
    }

    /// Applies a PATCH of the given `Content-Type` (merge, strategic merge or JSON patch) to one object.
    ///
    /// A patch that sets `metadata.resourceVersion` succeeds only if the object is still at that version (409
    /// otherwise), as on a real server; a patch may not change the object's name or namespace.
    @discardableResult
    public func patch(in resource: APIResource, namespace: String?, name: String, patch: JSONValue, contentType: String?)
        throws(StoreError) -> JSONValue
    {
        let resource = registered(resource)
        let format = try Patch.format(contentType: contentType)
        let current = try get(resource, namespace: namespace, name: name)
        let patched = try Patch.apply(patch, as: format, to: current)
        guard patched.string(atPath: "metadata.name") == name,
            !resource.namespaced || patched.string(atPath: "metadata.namespace") == current.string(atPath: "metadata.namespace")
        else {
            throw .badRequest("a patch may not change metadata.name or metadata.namespace")
        }
        let object = try store.update(resource, patched, checkResourceVersion: true)
        if resource.id == APIResource.pods.id { syncSlices(forPodIn: namespace ?? "default", named: name) }
        broadcast()
        return object
    }

    /// Every deletion so far, oldest first, with the grace period it asked for.
    public var deletions: [Deletion] { deletionLog }

    /// Turns the small EndpointSlice controller on or off (see ``APIServerConfiguration/endpointSliceController``).
    public func setEndpointSliceController(_ enabled: Bool) { endpointSliceController = enabled }

    /// Drops the whole change history: watches from any earlier RV (and old continue tokens) get 410.
    public func compact() {
        store.compact()
        broadcastRevision = store.resourceVersion
        paginations.removeAll()
    }

    /// Sets how many changes the history keeps.
    public func setHistoryLimit(_ limit: Int) { store.historyLimit = max(limit, 1) }

    /// Changes how expired resourceVersions are reported from now on.
    public func setGoneMode(_ mode: GoneMode) { goneMode = mode }
    /// Changes the bookmark interval for watches started from now on.
    public func setBookmarkInterval(_ interval: Duration) { bookmarkInterval = interval }
    /// Changes which bearer tokens are accepted (nil: no authentication), e.g. to simulate rotation.
    public func setAcceptedBearerTokens(_ tokens: Set<String>?) { acceptedBearerTokens = tokens }

    /// The bearer tokens `POST …/tokenreviews` authenticates, and whose they are.
    public func setTokenIdentities(_ identities: [String: TokenIdentity]) { tokenIdentities = identities }

    /// Queues a fault for the next request it targets.
    public func inject(_ fault: Fault) { faults.append(fault) }

    /// Queues the same fault `count` times.
    public func inject(_ fault: Fault, count: Int) { faults.append(contentsOf: repeatElement(fault, count: count)) }

    /// Faults not yet consumed.
    public var pendingFaults: [Fault] { faults }

    /// Ends every open watch cleanly (as a server restart or `timeoutSeconds` would).
    public func closeAllWatches() {
        for watcher in watchers.values { watcher.continuation.finish() }
        watchers.removeAll()
    }

    /// Lets every hung request go (they then answer normally).
    public func releaseHangs() { hangsReleased = true }

    /// Number of open watches.
    public var watchCount: Int { watchers.count }

    /// Every request received so far, oldest first.
    public var recordedRequests: [RecordedRequest] { requests }

    /// The port the server listens on, once it does.
    public var port: Int? { listeningPort }

    // MARK: Server-facing API

    func setListeningPort(_ port: Int?) { listeningPort = port }

    func record(_ request: RecordedRequest) { requests.append(request) }

    func resource(for type: (some KubeObject).Type) -> APIResource {
        registered(APIResource(type))
    }

    /// The registered resource with the same group/version/resource, registering it if new.
    private func registered(_ resource: APIResource) -> APIResource {
        if let known = resources.first(where: { $0.id == resource.id }) { return known }
        resources.append(resource)
        return resource
    }

    func resource(groupVersion: String, name: String) -> APIResource? {
        resources.first { $0.groupVersion == groupVersion && $0.resource == name }
    }

    /// Takes the first queued fault that applies to this request.
    func takeFault(isWatch: Bool) -> Fault? {
        guard let index = faults.firstIndex(where: { fault in
            switch fault.target {
            case .any: true
            case .list: !isWatch
            case .watch: isWatch
            }
        }) else { return nil }
        return faults.remove(at: index)
    }

    func isHangReleased() -> Bool { hangsReleased }

    func get(_ resource: APIResource, namespace: String?, name: String) throws(StoreError) -> JSONValue {
        guard let object = store.get(resource, namespace: namespace, name: name) else {
            throw .notFound(resource: resource.resource, name: name)
        }
        return object
    }

    /// One page of a list. Pages after the first come from a snapshot taken by the first, so a paginated
    /// list is consistent at one RV, as etcd makes it; a token whose snapshot is gone is `410 Expired`.
    func list(_ filter: WatchFilter, limit: Int?, continueToken: String?) throws(StoreError) -> ListPage {
        var items: [JSONValue]
        var rv: Int64
        if let continueToken, !continueToken.isEmpty {
            guard let index = paginations.firstIndex(where: { $0.token == continueToken }) else {
                throw .expired(requested: 0, oldest: store.compactedRevision)
            }
            let page = paginations.remove(at: index)
            guard page.resourceVersion >= store.compactedRevision else {
                throw .expired(requested: page.resourceVersion, oldest: store.compactedRevision)
            }
            items = page.remaining
            rv = page.resourceVersion
        } else {
            items = store.list(filter)
            rv = store.resourceVersion
        }
        guard let limit, limit > 0, items.count > limit else {
            return ListPage(items: items, resourceVersion: rv, continueToken: nil, remainingItemCount: nil)
        }
        let rest = Array(items[limit...])
        nextPaginationID += 1
        let token = "settle-\(nextPaginationID)"
        paginations.append((token, rv, rest))
        if paginations.count > 64 { paginations.removeFirst() }
        return ListPage(items: Array(items[..<limit]), resourceVersion: rv, continueToken: token, remainingItemCount: rest.count)
    }

    /// Registers a watcher and queues its backlog in the same actor turn, so nothing falls between.
    ///
    /// - `resourceVersion` nil or "0": synthetic `ADDED` events for the current state first.
    /// - otherwise: every retained change after it, or ``StoreError/expired(requested:oldest:)``.
    /// - `sendInitialEvents`: state as `ADDED`, then a `BOOKMARK` marked `k8s.io/initial-events-end`.
    func startWatch(_ filter: WatchFilter, resourceVersion: String?, sendInitialEvents: Bool) throws(StoreError)
        -> (id: Int, events: AsyncStream<WatchEventLine>)
    {
        var backlog: [WatchEventLine] = []
        let requested = resourceVersion.flatMap { Int64($0) } ?? 0
        if sendInitialEvents || requested == 0 {
            backlog = store.list(filter).map { WatchEventLine(type: .added, object: $0) }
            if sendInitialEvents {
                var bookmark = bookmarkObject(for: filter.resource)
                bookmark["metadata"]?["annotations"] = .object(["k8s.io/initial-events-end": "true"])
                backlog.append(WatchEventLine(type: .bookmark, object: bookmark))
            }
        } else {
            guard resourceVersion.flatMap({ Int64($0) }) != nil else {
                throw .badRequest("invalid resourceVersion \(resourceVersion ?? "")")
            }
            backlog = try store.events(after: requested).compactMap(filter.translate)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: WatchEventLine.self)
        for line in backlog { continuation.yield(line) }
        nextWatcherID += 1
        watchers[nextWatcherID] = Watcher(filter: filter, continuation: continuation)
        return (nextWatcherID, stream)
    }

    /// Queues a `BOOKMARK` at the current RV; every change up to it has already been queued to this watcher.
    func sendBookmark(to id: Int) {
        guard let watcher = watchers[id] else { return }
        watcher.continuation.yield(WatchEventLine(type: .bookmark, object: bookmarkObject(for: watcher.filter.resource)))
    }

    func endWatch(_ id: Int) {
        watchers.removeValue(forKey: id)?.continuation.finish()
    }

    private func bookmarkObject(for resource: APIResource) -> JSONValue {
        .object([
            "kind": .string(resource.kind), "apiVersion": .string(resource.groupVersion),
            "metadata": .object(["resourceVersion": .string(String(store.resourceVersion)), "creationTimestamp": .null]),
        ])
    }

    // MARK: EndpointSlice controller

    /// Runs the EndpointSlice controller for a pod just written (when it is on).
    private func syncSlices(for pod: JSONValue) {
        guard let name = pod.string(atPath: "metadata.name") else { return }
        syncSlices(forPodIn: pod.string(atPath: "metadata.namespace") ?? "default", named: name)
    }

    /// Moves the pod out of (or into) its Services' slices after a write, each slice written with a new
    /// generation and resourceVersion; the caller broadcasts. Does nothing unless the controller is on.
    private func syncSlices(forPodIn namespace: String, named name: String) {
        guard endpointSliceController else { return }
        let pods = registered(.pods), services = registered(.services), slices = registered(.endpointSlices)
        func all(_ resource: APIResource) -> [JSONValue] {
            store.list(WatchFilter(resource: resource, namespace: namespace, labelSelector: .everything, fieldSelector: .everything))
        }
        let changes = EndpointSliceController.changes(
            pod: store.get(pods, namespace: namespace, name: name), namespace: namespace, name: name,
            services: all(services), slices: all(slices))
        for slice in changes {
            _ = try? store.update(slices, slice, checkResourceVersion: false)
        }
    }

    /// Hands changes not yet broadcast to every watcher that selects them (none after a no-op update).
    private func broadcast() {
        let events = (try? store.events(after: broadcastRevision)) ?? []
        broadcastRevision = store.resourceVersion
        for event in events {
            for watcher in watchers.values {
                if let line = watcher.filter.translate(event) { watcher.continuation.yield(line) }
            }
        }
    }

    private func decode<T: Decodable>(_ value: JSONValue) throws -> T {
        try JSONDecoder().decode(T.self, from: value.encoded())
    }
}
