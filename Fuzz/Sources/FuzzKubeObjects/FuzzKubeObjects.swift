import SettleKube
import SettleModel
import SettleSelection

/// `settle desired/check --from FILE`: YAML or JSON Kubernetes objects (a `kubectl get -o yaml`
/// List, documents, or single objects), then the desired state of the first node (or a node
/// without labels) from what loaded.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubeObjects(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    guard let objects = try? KubeObjectLoader.load(text: text, path: "fuzz-input") else { return 0 }
    let node = objects.nodes.first.map(NodeTopology.init(node:)) ?? NodeTopology(name: "node-a")
    _ = DesiredState.compute(services: objects.services, slices: objects.endpointSlices, node: node)
    return 0
}
