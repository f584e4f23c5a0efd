import Foundation

/// The lab's network: one bridge in a "fabric" namespace, and a namespace per node and per pod,
/// each joined to the bridge by a veth pair with an address in 10.77.0.0/16 (nodes 10.77.0.x,
/// pods 10.77.1.x upwards). Nodes route everything on-link, so a connection a node opens to a
/// ClusterIP is DNATed by that node's kube-proxy rules and leaves for the chosen pod's address.
///
/// Every namespace is named `sl<pid>-…`, so what a lab left behind when it was killed can be told
/// from a running lab's and removed by the next one (``sweepStale()``).
struct LabNetwork: Sendable {
    static let ipTool = "/usr/sbin/ip"
    static let prefixLength = 16

    let prefix: String

    init(pid: Int32 = ProcessInfo.processInfo.processIdentifier) { prefix = "sl\(pid)" }

    var fabric: String { "\(prefix)-fabric" }
    func nodeNamespace(_ index: Int) -> String { "\(prefix)-node-\(index)" }
    func podNamespace(_ index: Int) -> String { "\(prefix)-pod-\(index)" }

    /// Node `index` (1-based, at most 240).
    static func nodeIP(_ index: Int) -> String { "10.77.0.\(index + 10)" }
    /// Pod `index` (1-based; 250 a /24, up to 50,000 pods).
    static func podIP(_ index: Int) -> String { "10.77.\(1 + (index - 1) / 250).\(1 + (index - 1) % 250)" }

    /// Creates the fabric namespace and its bridge.
    func create() async throws {
        try await Self.ip(["netns", "add", fabric])
        try await Self.ip(["-n", fabric, "link", "set", "lo", "up"])
        try await Self.ip(["-n", fabric, "link", "add", "br0", "type", "bridge"])
        try await Self.ip(["-n", fabric, "link", "set", "br0", "up"])
    }

    /// Creates `namespace`, joined to the bridge through `port` (the veth end in the fabric), with `address`.
    func attach(_ namespace: String, port: String, address: String) async throws {
        try await Self.ip(["netns", "add", namespace])
        try await Self.ip(["-n", fabric, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace])
        try await Self.ip(["-n", fabric, "link", "set", port, "master", "br0", "up"])
        try await Self.ip(["-n", namespace, "link", "set", "lo", "up"])
        try await Self.ip(["-n", namespace, "addr", "add", "\(address)/\(Self.prefixLength)", "dev", "eth0"])
        try await Self.ip(["-n", namespace, "link", "set", "eth0", "up"])
        // ClusterIPs are nowhere on the wire: the route only has to exist for kube-proxy's DNAT to run.
        try await Self.ip(["-n", namespace, "route", "add", "default", "dev", "eth0"])
    }

    func addNode(_ index: Int) async throws { try await attach(nodeNamespace(index), port: "n\(index)", address: Self.nodeIP(index)) }
    func addPod(_ index: Int) async throws { try await attach(podNamespace(index), port: "p\(index)", address: Self.podIP(index)) }

    /// Deletes one pod's namespace (its veth pair goes with it).
    func removePod(_ index: Int) async { _ = try? await Self.ip(["netns", "delete", podNamespace(index)]) }

    /// Deletes every namespace of this lab.
    func destroy() async {
        for name in await Self.namespaces() where name.hasPrefix(prefix + "-") {
            _ = try? await Self.ip(["netns", "delete", name])
        }
    }

    /// Deletes namespaces left by labs whose process is gone.
    static func sweepStale() async -> [String] {
        var removed: [String] = []
        for name in await namespaces() where name.hasPrefix("sl") {
            guard let dash = name.firstIndex(of: "-"), let pid = Int32(name[name.index(name.startIndex, offsetBy: 2)..<dash]) else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                _ = try? await ip(["netns", "delete", name])
                removed.append(name)
            }
        }
        return removed
    }

    static func namespaces() async -> [String] {
        let list = (try? await ip(["netns", "list"])) ?? ""
        return list.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    @discardableResult
    static func ip(_ arguments: [String]) async throws -> String { try await LabShell.run(ipTool, arguments) }

    /// Runs `tool arguments…` inside `namespace`.
    @discardableResult
    static func exec(in namespace: String, _ tool: String, _ arguments: [String], input: String? = nil) async throws -> String {
        try await LabShell.run(ipTool, ["netns", "exec", namespace, tool] + arguments, input: input)
    }
}
