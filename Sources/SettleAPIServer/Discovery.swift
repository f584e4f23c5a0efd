/// The discovery documents kubectl reads before it lists anything (`/version`, `/api`, `/apis`, ...).
///
/// Only the legacy (unaggregated) format: kubectl asks for aggregated discovery first and falls back
/// when the answer is plain `application/json`, as it does against older servers.
enum Discovery {
    static func version() -> JSONValue {
        .object([
            "major": "1", "minor": "32", "gitVersion": "v1.32.0-settle", "gitCommit": "settle-stand-in",
            "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23",
            "compiler": "gc", "platform": "linux/amd64",
        ])
    }

    static func coreVersions() -> JSONValue {
        .object(["kind": "APIVersions", "versions": .array(["v1"]), "serverAddressByClientCIDRs": .array([])])
    }

    static func groupList(_ resources: [APIResource]) -> JSONValue {
        .object(["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups(resources).map(group))])
    }

    static func group(named name: String, _ resources: [APIResource]) -> JSONValue? {
        guard let versions = groups(resources).first(where: { $0.name == name }) else { return nil }
        var document = group(versions)
        document["kind"] = "APIGroup"
        document["apiVersion"] = "v1"
        return document
    }

    static func resourceList(groupVersion: String, _ resources: [APIResource]) -> JSONValue? {
        let served = resources.filter { $0.groupVersion == groupVersion }
        guard !served.isEmpty || groupVersion == "v1" else { return nil }
        let verbs: JSONValue = .array(["create", "delete", "get", "list", "patch", "update", "watch"])
        let entries: [JSONValue] = served.map { resource in
            var entry: JSONValue = .object([
                "name": .string(resource.resource), "singularName": .string(resource.singularName),
                "namespaced": .bool(resource.namespaced), "kind": .string(resource.kind), "verbs": verbs,
            ])
            if !resource.shortNames.isEmpty { entry["shortNames"] = .array(resource.shortNames.map { .string($0) }) }
            return entry
        }
        return .object([
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion),
            "resources": .array(entries),
        ])
    }

    private static func groups(_ resources: [APIResource]) -> [(name: String, versions: [String])] {
        var result: [(name: String, versions: [String])] = []
        for resource in resources where !resource.group.isEmpty {
            if let index = result.firstIndex(where: { $0.name == resource.group }) {
                if !result[index].versions.contains(resource.version) { result[index].versions.append(resource.version) }
            } else {
                result.append((resource.group, [resource.version]))
            }
        }
        return result
    }

    private static func group(_ entry: (name: String, versions: [String])) -> JSONValue {
        let versions: [JSONValue] = entry.versions.map {
            .object(["groupVersion": .string("\(entry.name)/\($0)"), "version": .string($0)])
        }
        return .object(["name": .string(entry.name), "versions": .array(versions), "preferredVersion": versions[0]])
    }
}
