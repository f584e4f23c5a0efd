import Foundation
import Hummingbird

/// Answers every HTTP request of the stand-in: auth, faults, discovery, then list/watch/get/create/update/patch/delete.
///
/// One responder rather than a router because Kubernetes paths are regular but deep, and the same
/// collection path serves both LIST and WATCH depending on the query.
struct APIServerResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let state: APIServerState

    func respond(to request: Request, context: Context) async throws -> Response {
        let query = RequestTarget.parseQuery(request.uri.query)
        let recorded = RecordedRequest(
            method: request.method.rawValue, path: request.uri.path, query: query,
            authorization: request.headers[.authorization])
        await state.record(recorded)

        if let tokens = await state.acceptedBearerTokens {
            let header = recorded.authorization ?? ""
            guard header.hasPrefix("Bearer "), tokens.contains(String(header.dropFirst("Bearer ".count))) else {
                return Self.json(StatusObject.failure(code: 401, reason: "Unauthorized", message: "Unauthorized"), status: 401)
            }
        }

        var stallAfterHeaders = false
        var cutAfterEvents: Int?
        if let fault = await state.takeFault(isWatch: recorded.isWatch) {
            switch fault.action {
            case .status(let code):
                let reason = code == 410 ? "Expired" : (code >= 500 ? "InternalError" : "BadRequest")
                return Self.json(StatusObject.failure(code: code, reason: reason, message: "injected fault"), status: code)
            case .delay(let duration):
                try await Task.sleep(for: duration)
            case .hang:
                await hang()
            case .stallAfterHeaders:
                stallAfterHeaders = true
            case .cutWatch(let afterEvents):
                cutAfterEvents = afterEvents
            }
        }
        if stallAfterHeaders {
            let state = self.state
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody { writer in
                    await APIServerResponder(state: state).hang()
                    try await writer.finish(nil)
                })
        }

        do throws(StoreError) {
            return try await route(request, recorded: recorded, cutAfterEvents: cutAfterEvents)
        } catch {
            return Self.json(error.status, status: error.code)
        }
    }

    private func route(_ request: Request, recorded: RecordedRequest, cutAfterEvents: Int?) async throws(StoreError) -> Response {
        let resources = await state.resources
        switch RequestTarget(path: recorded.path) {
        case .version:
            return Self.json(Discovery.version())
        case .coreVersions:
            return Self.json(Discovery.coreVersions())
        case .groupList:
            return Self.json(Discovery.groupList(resources))
        case .group(let name):
            guard let document = Discovery.group(named: name, resources) else { throw .notFound(resource: "group", name: name) }
            return Self.json(document)
        case .resourceList(let groupVersion):
            guard let document = Discovery.resourceList(groupVersion: groupVersion, resources) else {
                throw .notFound(resource: "groupversion", name: groupVersion)
            }
            return Self.json(document)
        case .collection(TokenReviews.groupVersion, nil, TokenReviews.resource, false) where request.method == .post:
            return Self.json(try TokenReviews.review(try await Self.body(request), identities: await state.tokenIdentities), status: 201)
        case .collection(let groupVersion, let namespace, let name, let legacyWatch):
            guard let resource = await state.resource(groupVersion: groupVersion, name: name) else {
                throw .notFound(resource: "resource", name: name)
            }
            switch request.method {
            case .get:
                let filter = try Self.filter(resource, namespace: namespace, query: recorded.query)
                if legacyWatch || recorded.isWatch {
                    return try await watch(filter, query: recorded.query, cutAfterEvents: cutAfterEvents)
                }
                return try await list(filter, query: recorded.query)
            case .post:
                var object = try await Self.body(request)
                if resource.namespaced, let namespace, object["metadata"]?["namespace"] == nil {
                    object["metadata"]?["namespace"] = .string(namespace)
                }
                return Self.json(try await state.create(json: object, in: resource), status: 201)
            default:
                throw .badRequest("method \(request.method) not allowed on a collection")
            }
        case .object(let groupVersion, let namespace, let name, let objectName, let legacyWatch):
            guard let resource = await state.resource(groupVersion: groupVersion, name: name) else {
                throw .notFound(resource: "resource", name: name)
            }
            switch request.method {
            case .get:
                if legacyWatch || recorded.isWatch {
                    var query = recorded.query
                    query["fieldSelector"] = "metadata.name=\(objectName)"
                    let filter = try Self.filter(resource, namespace: namespace, query: query)
                    return try await watch(filter, query: query, cutAfterEvents: cutAfterEvents)
                }
                return Self.json(try await state.get(resource, namespace: namespace, name: objectName))
            case .put:
                let object = try await Self.body(request)
                return Self.json(try await state.update(json: object, in: resource, checkResourceVersion: true))
            case .patch:
                let patch = try await Self.body(request, allowArray: true)
                return Self.json(
                    try await state.patch(
                        in: resource, namespace: namespace, name: objectName, patch: patch,
                        contentType: request.headers[.contentType]))
            case .delete:
                var options = try await Self.optionalBody(request)
                if let grace = recorded.query["gracePeriodSeconds"].flatMap({ Int64($0) }) {
                    if options == nil { options = .object([:]) }
                    options?["gracePeriodSeconds"] = .int(grace)
                }
                return Self.json(try await state.delete(in: resource, namespace: namespace, name: objectName, options: options))
            default:
                throw .badRequest("method \(request.method) not allowed on an object")
            }
        case .unknown:
            throw .notFound(resource: "path", name: recorded.path)
        }
    }

    // MARK: LIST

    private func list(_ filter: WatchFilter, query: [String: String]) async throws(StoreError) -> Response {
        let limit = query["limit"].flatMap { Int($0) }
        let page = try await state.list(filter, limit: limit, continueToken: query["continue"])
        var metadata: JSONValue = .object(["resourceVersion": .string(String(page.resourceVersion))])
        if let token = page.continueToken { metadata["continue"] = .string(token) }
        if let remaining = page.remainingItemCount { metadata["remainingItemCount"] = .int(Int64(remaining)) }
        // Items of a list carry no kind/apiVersion on the wire; the list does.
        let items: [JSONValue] = page.items.map { item in
            var item = item
            item["kind"] = nil
            item["apiVersion"] = nil
            return item
        }
        return Self.json(.object([
            "kind": .string("\(filter.resource.kind)List"), "apiVersion": .string(filter.resource.groupVersion),
            "metadata": metadata, "items": .array(items),
        ]))
    }

    // MARK: WATCH

    private func watch(_ filter: WatchFilter, query: [String: String], cutAfterEvents: Int?) async throws(StoreError) -> Response {
        let registration: (id: Int, events: AsyncStream<WatchEventLine>)
        do {
            registration = try await state.startWatch(
                filter, resourceVersion: query["resourceVersion"].flatMap { $0.isEmpty ? nil : $0 },
                sendInitialEvents: RecordedRequest.isTrue(query["sendInitialEvents"]))
        } catch .expired(let requested, let oldest) {
            let error = StoreError.expired(requested: requested, oldest: oldest)
            guard await state.goneMode == .errorEvent else { throw error }
            let line = WatchEventLine(type: .error, object: error.status)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: line.bytes)))
        }
        let bookmarks = RecordedRequest.isTrue(query["allowWatchBookmarks"])
        let timeout = query["timeoutSeconds"].flatMap { Int($0) }
        let interval = await state.bookmarkInterval
        let state = self.state
        let (id, events) = registration
        return Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody { writer in
                do {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        if bookmarks {
                            group.addTask {
                                while true {
                                    try await Task.sleep(for: interval)
                                    await state.sendBookmark(to: id)
                                }
                            }
                        }
                        if let timeout, timeout > 0 {
                            group.addTask {
                                try await Task.sleep(for: .seconds(timeout))
                                await state.endWatch(id)
                            }
                        }
                        var written = 0
                        for await line in events {
                            let bytes = line.bytes
                            if let cutAfterEvents, written >= cutAfterEvents {
                                try await writer.write(ByteBuffer(bytes: bytes[..<(bytes.count / 2)]))
                                throw InjectedDisconnect()
                            }
                            try await writer.write(ByteBuffer(bytes: bytes))
                            written += 1
                        }
                        group.cancelAll()
                    }
                } catch {
                    await state.endWatch(id)
                    throw error
                }
                await state.endWatch(id)
                try await writer.finish(nil)
            })
    }

    // MARK: Helpers

    /// Sleeps until hangs are released, the task is cancelled (server stopping) or the hang limit passes.
    func hang() async {
        let deadline = ContinuousClock.now + (await state.hangLimit)
        while ContinuousClock.now < deadline, !Task.isCancelled, !(await state.isHangReleased()) {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private static func filter(_ resource: APIResource, namespace: String?, query: [String: String]) throws(StoreError) -> WatchFilter {
        do {
            return WatchFilter(
                resource: resource, namespace: namespace,
                labelSelector: try LabelSelector(parsing: query["labelSelector"] ?? ""),
                fieldSelector: try FieldSelector(parsing: query["fieldSelector"] ?? ""))
        } catch {
            throw .badRequest(error.description)
        }
    }

    /// The request's JSON body: an object (or, with `allowArray`, an array: a JSON patch).
    private static func body(_ request: Request, allowArray: Bool = false) async throws(StoreError) -> JSONValue {
        guard let value = try await optionalBody(request) else { throw .badRequest("request body is empty; a JSON object is needed") }
        switch value {
        case .object: return value
        case .array where allowArray: return value
        default: throw .badRequest("request body is not a JSON object")
        }
    }

    /// The request's JSON body, or nil when it has none (a DELETE without `DeleteOptions`).
    private static func optionalBody(_ request: Request) async throws(StoreError) -> JSONValue? {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: 8 << 20)
            if buffer.readableBytes == 0 { return nil }
            return try JSONValue.decode(Data(buffer.readableBytesView))
        } catch {
            throw .badRequest("request body is not JSON: \(error)")
        }
    }

    static func json(_ value: JSONValue, status: Int = 200) -> Response {
        Response(
            status: .init(code: status), headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.encoded())))
    }
}

/// Thrown inside a watch body to drop the connection mid-line (the ``Fault/Action/cutWatch(afterEvents:)`` fault).
struct InjectedDisconnect: Error {}
