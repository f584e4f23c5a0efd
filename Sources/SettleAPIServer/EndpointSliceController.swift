/// The stand-in's small EndpointSlice controller: which slices change when one pod changes.
///
/// A pure function of the pod and its namespace's Services and slices. A pod is a *member* of a
/// Service when the Service has a selector, every selector pair is among the pod's labels, the pod
/// has an IP and is not being deleted. A slice of the Service (label `kubernetes.io/service-name`)
/// that lists a non-member pod (by `targetRef`) loses that endpoint; a member that no slice of the
/// Service lists joins the Service's first slice (by name) as ready when its phase is `Running`.
/// Services without a selector keep hand-made slices, as the real controller leaves them alone.
/// Mirrors the part of `pkg/controller/endpointslice` that reacts to label changes — no more.
enum EndpointSliceController {
    static let serviceNameLabel = "kubernetes.io/service-name"

    /// The slices to write (with their new `endpoints`), in name order. `pod` nil: it was deleted.
    static func changes(pod: JSONValue?, namespace: String, name: String, services: [JSONValue], slices: [JSONValue]) -> [JSONValue] {
        var changed: [JSONValue] = []
        for service in services.sorted(by: { key($0) < key($1) }) {
            guard service.string(atPath: "metadata.namespace") == namespace, let serviceName = service.string(atPath: "metadata.name"),
                case .object(let selectorMembers)? = service["spec"]?["selector"], !selectorMembers.isEmpty
            else { continue }
            let selector = selectorMembers.compactMapValues(\.stringValue)
            let ownSlices = slices.filter {
                $0.string(atPath: "metadata.namespace") == namespace && $0.labels[serviceNameLabel] == serviceName
            }.sorted { key($0) < key($1) }
            let member = pod.map { isMember($0, of: selector) } ?? false
            var listed = false
            for slice in ownSlices {
                guard case .array(let endpoints)? = slice["endpoints"] else { continue }
                let kept = endpoints.filter { !names($0, namespace: namespace, pod: name) }
                if kept.count != endpoints.count {
                    if member {
                        listed = true
                    } else {
                        var updated = slice
                        updated["endpoints"] = .array(kept)
                        changed.append(updated)
                    }
                }
            }
            if member, !listed, let pod, var first = ownSlices.first, let endpoint = endpoint(for: pod, namespace: namespace, name: name) {
                let endpoints: [JSONValue] = if case .array(let items)? = first["endpoints"] { items } else { [] }
                first["endpoints"] = .array(endpoints + [endpoint])
                changed.append(first)
            }
        }
        return changed
    }

    static func isMember(_ pod: JSONValue, of selector: [String: String]) -> Bool {
        let labels = pod.labels
        guard selector.allSatisfy({ labels[$0.key] == $0.value }) else { return false }
        guard pod["metadata"]?["deletionTimestamp"].map({ $0 == .null }) ?? true else { return false }
        return !(pod.string(atPath: "status.podIP") ?? "").isEmpty
    }

    /// Whether a slice endpoint's `targetRef` names the pod.
    private static func names(_ endpoint: JSONValue, namespace: String, pod name: String) -> Bool {
        guard let reference = endpoint["targetRef"], reference.string(atPath: "kind") == "Pod",
            reference.string(atPath: "name") == name
        else { return false }
        let referenced = reference.string(atPath: "namespace") ?? namespace
        return referenced == namespace
    }

    private static func endpoint(for pod: JSONValue, namespace: String, name: String) -> JSONValue? {
        guard let ip = pod.string(atPath: "status.podIP"), !ip.isEmpty else { return nil }
        let ready = pod.string(atPath: "status.phase").map { $0 == "Running" } ?? true
        var endpoint: JSONValue = .object([
            "addresses": .array([.string(ip)]),
            "conditions": .object(["ready": .bool(ready), "serving": .bool(ready), "terminating": .bool(false)]),
            "targetRef": .object([
                "kind": "Pod", "namespace": .string(namespace), "name": .string(name),
                "uid": .string(pod.string(atPath: "metadata.uid") ?? ""),
            ]),
        ])
        if let node = pod.string(atPath: "spec.nodeName") { endpoint["nodeName"] = .string(node) }
        return endpoint
    }

    private static func key(_ object: JSONValue) -> String { ResourceStore.key(of: object) }
}
