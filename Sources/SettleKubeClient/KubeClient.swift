import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
public import SettleKube

/// The hand-written Kubernetes list/watch client: one HTTP client, one configuration, any ``KubeObject``.
///
/// Stateless apart from its connection pool, so it is a `Sendable` class rather than an actor; the
/// resume-from-RV logic lives in ``Reflector``. Call ``shutdown()`` when done.
public final class KubeClient: Sendable {
    /// Where and how this client connects.
    public let configuration: KubeClientConfiguration
    private let httpClient: HTTPClient
    private let tokenFile: BearerTokenFile?
    private let logger: Logger
    /// Largest LIST body accepted, in bytes.
    public let maximumListBytes = 1 << 30

    /// Builds the HTTP client; throws if the TLS material does not parse.
    public init(configuration: KubeClientConfiguration, logger: Logger = Logger(label: "settle.kubeclient")) throws(KubeClientError) {
        self.configuration = configuration
        self.logger = logger
        if case .bearerTokenFile(let path) = configuration.credentials {
            tokenFile = BearerTokenFile(path: path)
        } else {
            tokenFile = nil
        }
        var clientConfiguration = HTTPClient.Configuration(
            tlsConfiguration: try Self.tlsConfiguration(configuration.tls),
            timeout: .init(connect: configuration.connectTimeout.timeAmount, read: configuration.idleTimeout.timeAmount))
        clientConfiguration.httpVersion = .http1Only
        httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: clientConfiguration)
    }

    /// Closes every connection; the client cannot be used afterwards.
    public func shutdown() async throws {
        try await httpClient.shutdown()
    }

    /// One LIST page (or the whole list without `limit`).
    public func list<T: KubeObject>(
        _ type: T.Type, selection: ResourceSelection = .init(), limit: Int? = nil, continueToken: String? = nil,
        resourceVersion: String? = nil
    ) async throws -> ObjectList<T> {
        var query: [(String, String)] = Self.selectionQuery(selection)
        if let limit { query.append(("limit", String(limit))) }
        if let continueToken { query.append(("continue", continueToken)) }
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        let response = try await execute(path: Self.path(T.self, namespace: selection.namespace), query: query)
        let body = try await response.body.collect(upTo: maximumListBytes)
        do {
            return try JSONDecoder().decode(ObjectList<T>.self, from: Data(body.readableBytesView))
        } catch {
            throw KubeClientError.decoding("\(T.kind) list: \(error)")
        }
    }

    /// Every page of a LIST, following `continue` tokens; one consistent snapshot at one resourceVersion.
    public func listAll<T: KubeObject>(_ type: T.Type, selection: ResourceSelection = .init(), pageSize: Int? = 500) async throws
        -> ObjectList<T>
    {
        var page = try await list(T.self, selection: selection, limit: pageSize)
        var items = page.items
        let resourceVersion = page.resourceVersion
        while let token = page.continueToken {
            page = try await list(T.self, selection: selection, limit: pageSize, continueToken: token)
            items += page.items
        }
        return ObjectList(resourceVersion: resourceVersion, items: items)
    }

    /// Starts a WATCH. Events arrive as the returned sequence is iterated; it ends when the server ends the
    /// watch (`timeoutSeconds`) and throws when the connection breaks or goes silent past the idle timeout.
    ///
    /// - Parameters:
    ///   - resourceVersion: resume point (from a list, an event or a bookmark); nil means "current state first".
    ///   - onSkippedLine: called for a complete line that does not decode; the line is skipped.
    public func watch<T: KubeObject>(
        _ type: T.Type, selection: ResourceSelection = .init(), resourceVersion: String?, allowWatchBookmarks: Bool = true,
        timeoutSeconds: Int? = nil, onSkippedLine: @escaping @Sendable (KubeClientError) -> Void = { _ in }
    ) async throws -> WatchEventSequence<T> {
        var query: [(String, String)] = [("watch", "true")] + Self.selectionQuery(selection)
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        if allowWatchBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        let response = try await execute(path: Self.path(T.self, namespace: selection.namespace), query: query)
        return WatchEventSequence(body: response.body, onSkippedLine: onSkippedLine)
    }

    // MARK: HTTP

    /// One request; any 2xx answer is returned, anything else thrown as ``KubeClientError`` (410 as `gone`).
    func execute(
        method: HTTPMethod = .GET, path: String, query: [(String, String)], body: (contentType: String, bytes: Data)? = nil
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: configuration.server + path + Self.encode(query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "settle/0 (list-watch)")
        if let body {
            request.headers.add(name: "Content-Type", value: body.contentType)
            request.body = .bytes(ByteBuffer(bytes: body.bytes))
        }
        switch configuration.credentials {
        case .none: break
        case .bearerToken(let token): request.headers.add(name: "Authorization", value: "Bearer \(token)")
        case .bearerTokenFile:
            if let token = try tokenFile?.token() { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        }
        let response = try await httpClient.execute(
            request, deadline: .now() + configuration.requestTimeout.timeAmount, logger: logger)
        guard (200..<300).contains(response.status.code) else {
            let body = try? await response.body.collect(upTo: 1 << 20)
            let status = body.flatMap { try? JSONDecoder().decode(KubeStatus.self, from: Data($0.readableBytesView)) }
            if response.status.code == 410 { throw KubeClientError.gone(status) }
            throw KubeClientError.httpStatus(code: Int(response.status.code), status: status)
        }
        return response
    }

    static func path<T: KubeObject>(_ type: T.Type, namespace: String?) -> String {
        let prefix = T.apiVersion.contains("/") ? "/apis/\(T.apiVersion)" : "/api/\(T.apiVersion)"
        if let namespace, T.namespaced { return "\(prefix)/namespaces/\(percentEncode(namespace))/\(T.resource)" }
        return "\(prefix)/\(T.resource)"
    }

    private static func selectionQuery(_ selection: ResourceSelection) -> [(String, String)] {
        var query: [(String, String)] = []
        if let label = selection.labelSelector, !label.isEmpty { query.append(("labelSelector", label)) }
        if let field = selection.fieldSelector, !field.isEmpty { query.append(("fieldSelector", field)) }
        return query
    }

    static func encode(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        return "?" + query.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters stay; everything else (`!`, `,`, `=`, `/` in selectors) is escaped.
    static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    // MARK: TLS

    static func tlsConfiguration(_ settings: TLSSettings) throws(KubeClientError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = settings.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if let certificate = settings.clientCertificatePEM, let key = settings.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw .invalidConfiguration("TLS material: \(error)")
        }
        if settings.insecureSkipVerify { tls.certificateVerification = .none }
        return tls
    }
}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}
