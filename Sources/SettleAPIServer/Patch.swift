import Foundation

/// The PATCH formats the stand-in applies, by request `Content-Type`.
///
/// Pure functions on ``JSONValue``: merge patch (RFC 7386), strategic merge patch (applied as a merge
/// patch: maps such as `metadata.labels` and `metadata.annotations` merge exactly as the real server
/// merges them; lists are replaced whole and `$patch` directives are refused), and JSON patch
/// (RFC 6902, all six operations).
enum Patch {
    enum Format: String, CaseIterable {
        case merge = "application/merge-patch+json"
        case strategicMerge = "application/strategic-merge-patch+json"
        case json = "application/json-patch+json"
    }

    /// The format a `Content-Type` header names (parameters such as `charset` ignored).
    static func format(contentType: String?) throws(StoreError) -> Format {
        let bare = (contentType ?? "").split(separator: ";").first.map { $0.trimmingSpaces().lowercased() } ?? ""
        if bare == "application/apply-patch+yaml" {
            throw .unsupportedMediaType("server-side apply (\(bare)) is not served by the stand-in")
        }
        guard let format = Format(rawValue: bare) else {
            throw .unsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: "
                    + Format.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return format
    }

    /// `target` with `patch` applied.
    static func apply(_ patch: JSONValue, as format: Format, to target: JSONValue) throws(StoreError) -> JSONValue {
        switch format {
        case .merge:
            guard case .object = patch else { throw .badRequest("a merge patch must be a JSON object") }
            return merge(patch, into: target)
        case .strategicMerge:
            guard case .object = patch else { throw .badRequest("a strategic merge patch must be a JSON object") }
            if containsDirective(patch) {
                throw .badRequest("the stand-in applies strategic merge patches as merge patches; $patch and other $ directives are not supported")
            }
            return merge(patch, into: target)
        case .json:
            guard case .array(let operations) = patch else { throw .badRequest("a JSON patch must be a JSON array of operations") }
            var document = target
            for (index, operation) in operations.enumerated() {
                document = try applyOperation(operation, index: index, to: document)
            }
            return document
        }
    }

    // MARK: Merge patch (RFC 7386)

    static func merge(_ patch: JSONValue, into target: JSONValue) -> JSONValue {
        guard case .object(let members) = patch else { return patch }
        var result: JSONValue = if case .object = target { target } else { .object([:]) }
        for (key, value) in members {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = merge(value, into: result[key] ?? .null)
            }
        }
        return result
    }

    private static func containsDirective(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let members): members.keys.contains { $0.hasPrefix("$") } || members.values.contains(where: containsDirective)
        case .array(let items): items.contains(where: containsDirective)
        default: false
        }
    }

    // MARK: JSON patch (RFC 6902)

    private static func applyOperation(_ operation: JSONValue, index: Int, to document: JSONValue) throws(StoreError) -> JSONValue {
        guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
            throw .badRequest("JSON patch operation \(index): needs \"op\" and \"path\"")
        }
        let pointer = try Self.pointer(path)
        func value() throws(StoreError) -> JSONValue {
            guard let value = operation["value"] else { throw .badRequest("JSON patch operation \(index) (\(op)): needs \"value\"") }
            return value
        }
        func from() throws(StoreError) -> [String] {
            guard let from = operation["from"]?.stringValue else { throw .badRequest("JSON patch operation \(index) (\(op)): needs \"from\"") }
            return try Self.pointer(from)
        }
        switch op {
        case "add": return try add(try value(), at: pointer, in: document)
        case "remove": return try remove(at: pointer, in: document).document
        case "replace":
            _ = try lookup(pointer, in: document)
            return try add(try value(), at: pointer, in: remove(at: pointer, in: document).document)
        case "move":
            let (removed, moved) = try remove(at: try from(), in: document)
            return try add(moved, at: pointer, in: removed)
        case "copy":
            return try add(try lookup(try from(), in: document), at: pointer, in: document)
        case "test":
            guard try lookup(pointer, in: document) == (try value()) else {
                throw .invalid("the server rejected our request due to an error in our request: test operation \(index) failed at \(path)")
            }
            return document
        default:
            throw .badRequest("JSON patch operation \(index): unknown op \"\(op)\"")
        }
    }

    /// RFC 6901: `/a/b~1c` is `["a", "b/c"]`; `""` is the whole document.
    static func pointer(_ text: String) throws(StoreError) -> [String] {
        if text.isEmpty { return [] }
        guard text.hasPrefix("/") else { throw .badRequest("JSON pointer \"\(text)\" must start with /") }
        return text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func lookup(_ pointer: [String], in document: JSONValue) throws(StoreError) -> JSONValue {
        var current = document
        for token in pointer {
            switch current {
            case .object(let members):
                guard let next = members[token] else { throw missing(pointer) }
                current = next
            case .array(let items):
                guard let index = Int(token), items.indices.contains(index) else { throw missing(pointer) }
                current = items[index]
            default:
                throw missing(pointer)
            }
        }
        return current
    }

    private static func add(_ value: JSONValue, at pointer: [String], in document: JSONValue) throws(StoreError) -> JSONValue {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var members):
            if rest.isEmpty {
                members[token] = value
            } else {
                guard let child = members[token] else { throw missing(pointer) }
                members[token] = try add(value, at: rest, in: child)
            }
            return .object(members)
        case .array(var items):
            if rest.isEmpty {
                let index = token == "-" ? items.count : Int(token) ?? -1
                guard (0...items.count).contains(index) else { throw missing(pointer) }
                items.insert(value, at: index)
            } else {
                guard let index = Int(token), items.indices.contains(index) else { throw missing(pointer) }
                items[index] = try add(value, at: rest, in: items[index])
            }
            return .array(items)
        default:
            throw missing(pointer)
        }
    }

    private static func remove(at pointer: [String], in document: JSONValue) throws(StoreError)
        -> (document: JSONValue, removed: JSONValue)
    {
        guard let token = pointer.first else { throw .badRequest("cannot remove the whole document") }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var members):
            guard let child = members[token] else { throw missing(pointer) }
            if rest.isEmpty {
                members[token] = nil
                return (.object(members), child)
            }
            let (updated, removed) = try remove(at: rest, in: child)
            members[token] = updated
            return (.object(members), removed)
        case .array(var items):
            guard let index = Int(token), items.indices.contains(index) else { throw missing(pointer) }
            if rest.isEmpty {
                let removed = items.remove(at: index)
                return (.array(items), removed)
            }
            let (updated, removed) = try remove(at: rest, in: items[index])
            items[index] = updated
            return (.array(items), removed)
        default:
            throw missing(pointer)
        }
    }

    private static func missing(_ pointer: [String]) -> StoreError {
        .invalid("the server rejected our request due to an error in our request: no value at /\(pointer.joined(separator: "/"))")
    }
}
