import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import SettleKube

/// How a PATCH body is to be read: the `Content-Type` of the request (KEP "server-side" aside).
public enum PatchType: String, Sendable, CaseIterable {
    /// RFC 7386 JSON merge patch: objects merge, `null` removes a key, lists are replaced whole.
    case merge = "application/merge-patch+json"
    /// Kubernetes' strategic merge patch: a merge patch whose lists may merge by key.
    case strategicMerge = "application/strategic-merge-patch+json"
    /// RFC 6902 JSON patch: a list of `add`, `remove`, `replace`, `move`, `copy`, `test` operations.
    case json = "application/json-patch+json"
}

/// `metav1.DeleteOptions`, reduced to what Settle sends.
public struct DeleteOptions: Encodable, Hashable, Sendable {
    /// Seconds the pod gets to shut down; `nil` keeps the object's own (`terminationGracePeriodSeconds`).
    public var gracePeriodSeconds: Int?
    /// Delete only if the object still has this UID: a replacement with the same name is never hit.
    public var uid: String?
    /// Delete only if the object is still at this resourceVersion.
    public var resourceVersion: String?

    public init(gracePeriodSeconds: Int? = nil, uid: String? = nil, resourceVersion: String? = nil) {
        self.gracePeriodSeconds = gracePeriodSeconds
        self.uid = uid
        self.resourceVersion = resourceVersion
    }

    private struct Preconditions: Encodable {
        var uid: String?
        var resourceVersion: String?
    }

    private enum CodingKeys: String, CodingKey { case kind, apiVersion, gracePeriodSeconds, preconditions }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("DeleteOptions", forKey: .kind)
        try container.encode("v1", forKey: .apiVersion)
        try container.encodeIfPresent(gracePeriodSeconds, forKey: .gracePeriodSeconds)
        if uid != nil || resourceVersion != nil {
            try container.encode(Preconditions(uid: uid, resourceVersion: resourceVersion), forKey: .preconditions)
        }
    }
}

extension KubeClient {
    /// Largest single-object body accepted, in bytes.
    static let maximumObjectBytes = 16 << 20

    /// `GET` one object. A missing object is ``KubeClientError/httpStatus(code:status:)`` with code 404.
    public func get<T: KubeObject>(_ type: T.Type, namespace: String? = nil, name: String) async throws -> T {
        let response = try await execute(path: Self.objectPath(T.self, namespace: namespace, name: name), query: [])
        return try await Self.decodeObject(T.self, response)
    }

    /// `PATCH` one object with `patch` (a JSON document of the kind `type` says); returns the object as stored.
    ///
    /// A merge patch that carries `metadata.resourceVersion` is applied only if the object is still at that
    /// version (409 otherwise): optimistic concurrency, as `kubectl` uses it.
    public func patch<T: KubeObject>(
        _ kind: T.Type, namespace: String? = nil, name: String, patch: Data, type: PatchType = .merge
    ) async throws -> T {
        let response = try await execute(
            method: .PATCH, path: Self.objectPath(T.self, namespace: namespace, name: name), query: [],
            body: (type.rawValue, patch))
        return try await Self.decodeObject(T.self, response)
    }

    /// `DELETE` one object with `options` (grace period, preconditions). For a pod the API server answers
    /// at once; the kubelet then stops it within the grace period.
    public func delete<T: KubeObject>(_ type: T.Type, namespace: String? = nil, name: String, options: DeleteOptions = .init())
        async throws
    {
        let body = try JSONEncoder().encode(options)
        let response = try await execute(
            method: .DELETE, path: Self.objectPath(T.self, namespace: namespace, name: name), query: [],
            body: ("application/json", body))
        _ = try? await response.body.collect(upTo: Self.maximumObjectBytes)
    }

    static func objectPath<T: KubeObject>(_ type: T.Type, namespace: String?, name: String) -> String {
        path(T.self, namespace: namespace ?? (T.namespaced ? "default" : nil)) + "/" + percentEncode(name)
    }

    private static func decodeObject<T: KubeObject>(_ type: T.Type, _ response: HTTPClientResponse) async throws -> T {
        let body = try await response.body.collect(upTo: maximumObjectBytes)
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw KubeClientError.decoding("\(T.kind): \(error)")
        }
    }
}

extension KubeClientError {
    /// The HTTP status of an API error answer (410 included), or nil for other failures.
    public var httpCode: Int? {
        switch self {
        case .gone: 410
        case .httpStatus(let code, _): code
        default: nil
        }
    }
}
