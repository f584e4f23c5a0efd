import Foundation

/// What a request URL addresses: a discovery document, a collection, or one object.
///
/// Pure parsing of `/api/v1[/namespaces/NS]/RESOURCE[/NAME]` and `/apis/GROUP/VERSION/...`, including the
/// legacy `/watch/` prefix.
enum RequestTarget: Equatable {
    case version, coreVersions, groupList
    case group(String)
    case resourceList(groupVersion: String)
    case collection(groupVersion: String, namespace: String?, resource: String, legacyWatch: Bool)
    case object(groupVersion: String, namespace: String?, resource: String, name: String, legacyWatch: Bool)
    case unknown

    init(path: String) {
        let parts = path.split(separator: "/").map { String($0).removingPercentEncoding ?? String($0) }
        switch parts.first {
        case "version" where parts.count == 1: self = .version
        case "api":
            guard parts.count > 1 else { self = .coreVersions; return }
            self = Self.resourcePath(groupVersion: parts[1], Array(parts.dropFirst(2)))
        case "apis":
            switch parts.count {
            case 1: self = .groupList
            case 2: self = .group(parts[1])
            default: self = Self.resourcePath(groupVersion: "\(parts[1])/\(parts[2])", Array(parts.dropFirst(3)))
            }
        default: self = .unknown
        }
    }

    private static func resourcePath(groupVersion: String, _ rest: [String]) -> RequestTarget {
        var rest = rest
        var legacyWatch = false
        if rest.first == "watch" {
            legacyWatch = true
            rest.removeFirst()
        }
        var namespace: String?
        // `namespaces/NS/RESOURCE...`; but `namespaces` and `namespaces/NAME` address Namespace objects.
        if rest.count >= 3, rest[0] == "namespaces" {
            namespace = rest[1]
            rest.removeFirst(2)
        }
        switch rest.count {
        case 0: return legacyWatch ? .unknown : .resourceList(groupVersion: groupVersion)
        case 1: return .collection(groupVersion: groupVersion, namespace: namespace, resource: rest[0], legacyWatch: legacyWatch)
        case 2:
            return .object(groupVersion: groupVersion, namespace: namespace, resource: rest[0], name: rest[1], legacyWatch: legacyWatch)
        default: return .unknown
        }
    }

    /// Decodes a raw query string the way Go's `url.ParseQuery` does (`+` is a space).
    static func parseQuery(_ query: String?) -> [String: String] {
        var result: [String: String] = [:]
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            result[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }
}
