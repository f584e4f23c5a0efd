import SettleAPIServer
import Testing

/// The stand-in's selector grammar, which the client and kubectl rely on.
struct SelectorTests {
    /// kube-proxy's selector excludes headless Services and those owned by another proxy.
    @Test("kube-proxy selector excludes headless and other-proxy objects")
    func kubeProxySelector() throws {
        let selector = try LabelSelector(parsing: "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless")
        #expect(selector.matches([:]))
        #expect(selector.matches(["app": "web"]))
        #expect(!selector.matches(["service.kubernetes.io/headless": ""]))
        #expect(!selector.matches(["service.kubernetes.io/service-proxy-name": "cilium"]))
    }

    /// Equality, inequality, existence and set clauses AND together.
    @Test("=, ==, !=, exists, in and notin clauses")
    func clauses() throws {
        let labels = ["app": "web", "tier": "front"]
        #expect(try LabelSelector(parsing: "app=web,tier").matches(labels))
        #expect(try LabelSelector(parsing: "app==web").matches(labels))
        #expect(!(try LabelSelector(parsing: "app!=web").matches(labels)))
        #expect(try LabelSelector(parsing: "tier in (front, back),app notin (db)").matches(labels))
        #expect(!(try LabelSelector(parsing: "tier notin (front)").matches(labels)))
        #expect(!(try LabelSelector(parsing: "missing").matches(labels)))
        #expect(throws: SelectorError.self) { try LabelSelector(parsing: "a b") }
    }

    /// Field selectors compare dotted paths as strings.
    @Test("field selector metadata.name= picks one object")
    func fieldSelector() throws {
        let object: JSONValue = .object(["metadata": .object(["name": "node-a"]), "spec": .object(["unschedulable": .bool(true)])])
        #expect(try FieldSelector(parsing: "metadata.name=node-a").matches(object))
        #expect(!(try FieldSelector(parsing: "metadata.name=node-b").matches(object)))
        #expect(try FieldSelector(parsing: "metadata.name!=node-b,spec.unschedulable=true").matches(object))
    }
}
