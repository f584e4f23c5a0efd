/// Why the stand-in refused a request; each maps to the HTTP status and `Status` reason the real server uses.
public enum StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    case notFound(resource: String, name: String)
    case alreadyExists(resource: String, name: String)
    case conflict(resource: String, name: String)
    /// A delete whose `preconditions` (uid, resourceVersion) do not hold (`409`, reason `Conflict`).
    case preconditionFailed(String)
    case invalid(String)
    /// The requested resourceVersion left the retained history (`410 Gone`, reason `Expired`).
    case expired(requested: Int64, oldest: Int64)
    case badRequest(String)
    /// A PATCH body in a format the stand-in does not apply (`415 Unsupported Media Type`).
    case unsupportedMediaType(String)

    /// One sentence for logs and test failures.
    public var description: String {
        switch self {
        case .notFound(let resource, let name): "\(resource) \"\(name)\" not found"
        case .alreadyExists(let resource, let name): "\(resource) \"\(name)\" already exists"
        case .conflict(let resource, let name):
            "Operation cannot be fulfilled on \(resource) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again"
        case .preconditionFailed(let message): message
        case .invalid(let message): message
        case .expired(let requested, let oldest): "too old resource version: \(requested) (\(oldest))"
        case .badRequest(let message): message
        case .unsupportedMediaType(let message): message
        }
    }

    var code: Int {
        switch self {
        case .notFound: 404
        case .alreadyExists, .conflict, .preconditionFailed: 409
        case .invalid: 422
        case .expired: 410
        case .badRequest: 400
        case .unsupportedMediaType: 415
        }
    }

    var reason: String {
        switch self {
        case .notFound: "NotFound"
        case .alreadyExists: "AlreadyExists"
        case .conflict, .preconditionFailed: "Conflict"
        case .invalid: "Invalid"
        case .expired: "Expired"
        case .badRequest: "BadRequest"
        case .unsupportedMediaType: "UnsupportedMediaType"
        }
    }

    /// The `Status` object the real server sends for this error.
    var status: JSONValue { StatusObject.failure(code: code, reason: reason, message: description) }
}
