import ArgumentParser
import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleKubeProxyRules
import SettleModel

/// `settle bench dataplane`: the cost of reading a kube-proxy-sized dataplane.
///
/// Loads a synthetic ruleset with the rule writer into a scratch namespace (in batches), then, in
/// the same run and the same namespace, measures each reader as a separate process (wall time and
/// peak RSS from `wait4`): the raw netlink dump with decoding skipped (the floor), `settle
/// dataplane` over netlink, `--via libnftables`, and `nft -j list table`; for iptables,
/// `settle dataplane --mode iptables` next to `iptables-save` alone.
struct DataplaneBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataplane",
        abstract: "Measure dataplane reads at scale against the kernel's floor and nft/iptables-save.")

    @Option(help: "Number of services.")
    var services = 10_000

    @Option(help: "Endpoints per service.")
    var endpoints = 5

    @Option(help: "nftables layouts to measure (comma-separated): endpointChains, inlineMap, directSingle.")
    var layouts = "endpointChains,inlineMap"

    @Option(help: "Runs per reader; the median is reported.")
    var repetitions = 3

    @Flag(help: "Skip the iptables measurement.")
    var skipIptables = false

    @Option(help: "Also write the report (Markdown) to this file.")
    var out: String?

    func validate() throws {
        guard services > 0, endpoints > 0, repetitions > 0 else { throw ValidationError("--services, --endpoints and --repetitions must be positive") }
        for layout in layouts.split(separator: ",") where NFTablesRuleWriter.Layout(rawValue: String(layout)) == nil {
            throw ValidationError("unknown layout \(layout); use \(NFTablesRuleWriter.Layout.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        guard geteuid() == 0 else { throw Terminal.failure("settle bench needs root (it creates a network namespace)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else {
            throw Terminal.failure("settle bench needs GNU time for peak memory (Debian: apt-get install time)")
        }
        let ports = BenchServices.make(count: services, endpoints: endpoints)
        let settle = try Self.selfPath()
        var report = "# settle bench dataplane\n\n"
        report += "\(services) services × \(endpoints) endpoints, median of \(repetitions) runs, \(Self.hostLine())\n"
        report += "Command: `settle bench dataplane --services \(services) --endpoints \(endpoints) --layouts \(layouts) --repetitions \(repetitions)`\n\n"
        for layoutName in layouts.split(separator: ",") {
            let layout = NFTablesRuleWriter.Layout(rawValue: String(layoutName))!
            report += try await nftables(layout: layout, ports: ports, settle: settle)
        }
        if !skipIptables {
            report += try iptables(ports: ports, settle: settle)
        }
        print(report, terminator: "")
        if let out { try report.write(toFile: out, atomically: true, encoding: .utf8) }
    }

    private func nftables(layout: NFTablesRuleWriter.Layout, ports: [ProxyServicePort], settle: String) async throws -> String {
        let ns = try BenchNamespace()
        defer { ns.remove() }
        let writer = NFTablesRuleWriter(layout: layout)
        let summary = writer.summary(for: ports)
        Terminal.note("nftables \(layout.rawValue): loading \(summary.declarations) declarations, \(summary.rules + summary.mapRules) rules, \(summary.elements) elements …")
        let loadStart = ContinuousClock.now
        for batch in writer.batches(for: ports) { try ns.load(batch, with: ["nft", "-f"]) }
        let load = ContinuousClock.now - loadStart

        // The answer must be right before its speed matters.
        let snapshot = try await NFTablesReader(netns: ns.name).read()
        let routed = snapshot.servicePorts.reduce(0) { $0 + $1.endpoints.count }
        guard snapshot.servicePorts.count == ports.count, routed == ports.count * endpoints else {
            throw BenchError("read back \(snapshot.servicePorts.count) service ports / \(routed) endpoints, expected \(ports.count) / \(ports.count * endpoints)")
        }

        Terminal.note("measuring readers …")
        let floor = try ProcessMeasurement.median(repetitions, settle, ["bench", "raw-dump", "--netns", ns.name])
        let wholeTable = try ProcessMeasurement.median(repetitions, settle, ["bench", "raw-dump", "--whole-table", "--netns", ns.name])
        let netlink = try ProcessMeasurement.median(repetitions, settle, ["dataplane", "--mode", "nftables", "--netns", ns.name, "--format", "json"])
        let json = try ProcessMeasurement.median(
            repetitions, settle, ["dataplane", "--mode", "nftables", "--via", "libnftables", "--netns", ns.name, "--format", "json"])
        let nft = try ProcessMeasurement.median(repetitions, "ip", ["netns", "exec", ns.name, "nft", "-j", "list", "table", "ip", "kube-proxy"])

        var out = "## nftables, layout `\(layout.rawValue)`\n\n"
        out += "Ruleset: \(summary.declarations) tables/chains/sets, \(summary.rules + summary.mapRules) rules, \(summary.elements) map/set elements; "
        out += "loaded in \(writer.batches(for: ports).count) `nft -f` batches in \(Self.format(load)).\n\n"
        out += Self.table(baseline: floor, rows: [
            ("netlink dump, decoding skipped (floor; Settle's requests: rules per chain)", floor),
            ("netlink dump, decoding skipped, rules in one table-wide dump (as `nft` fetches them)", wholeTable),
            ("`settle dataplane --format json` (netlink + libnftnl)", netlink),
            ("`settle dataplane --via libnftables --format json`", json),
            ("`nft -j list table ip kube-proxy`", nft),
        ])
        let ratio = netlink.seconds / floor.seconds
        let speedup = nft.seconds / netlink.seconds
        out += "\nTargets: netlink within 1.2× of the floor: \(Self.ratio(ratio)) \(ratio <= 1.2 ? "✓" : "✗"); "
        out += "at least 2× faster than `nft -j`: \(Self.ratio(speedup)) \(speedup >= 2 ? "✓" : "✗"); "
        out += "peak RSS ≤ 100 MB: \(Self.megabytes(netlink.peakRSSBytes)) \(netlink.peakRSSBytes <= 100 << 20 ? "✓" : "✗").\n\n"
        return out
    }

    private func iptables(ports: [ProxyServicePort], settle: String) throws -> String {
        let ns = try BenchNamespace()
        defer { ns.remove() }
        Terminal.note("iptables (nft backend): loading …")
        let input = IPTablesRuleWriter(family: .ipv4).restoreInput(for: ports)
        let loadStart = ContinuousClock.now
        try ns.load(input, with: ["iptables-nft-restore"])
        let load = ContinuousClock.now - loadStart
        Terminal.note("measuring readers …")
        let save = try ProcessMeasurement.median(repetitions, "ip", ["netns", "exec", ns.name, "iptables-nft-save", "-t", "nat"])
        let reader = try ProcessMeasurement.median(
            repetitions, settle, ["dataplane", "--mode", "iptables", "--netns", ns.name, "--format", "json"])
        var out = "## iptables (nft backend)\n\n"
        out += "`iptables-nft-restore` of \(input.utf8.count / 1_000_000) MB took \(Self.format(load)).\n\n"
        out += Self.table(baseline: save, rows: [
            ("`iptables-nft-save -t nat` alone", save),
            ("`settle dataplane --mode iptables --format json` (nat + filter, v4 + v6, both backends probed)", reader),
        ])
        out += "\n"
        return out
    }

    static func table(baseline: ProcessMeasurement, rows: [(String, ProcessMeasurement)]) -> String {
        var out = "| reader | wall | peak RSS | wall vs first row |\n|---|---:|---:|---:|\n"
        for (name, m) in rows {
            out += "| \(name) | \(String(format: "%.2f s", m.seconds)) | \(megabytes(m.peakRSSBytes)) | \(ratio(m.seconds / baseline.seconds)) |\n"
        }
        return out
    }

    static func ratio(_ r: Double) -> String { String(format: "%.2f×", r) }
    static func megabytes(_ bytes: Int) -> String { String(format: "%.0f MB", Double(bytes) / 1_048_576) }
    static func format(_ d: Duration) -> String {
        String(format: "%.1f s", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    static func selfPath() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    static func hostLine() -> String {
        let kernel = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        return "kernel \(kernel), \(ProcessInfo.processInfo.activeProcessorCount) CPUs"
    }
}

/// A scratch network namespace for one benchmark, removed afterwards.
struct BenchNamespace {
    let name: String

    init() throws {
        name = "settle-bench-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        try Self.run("ip", ["netns", "add", name])
    }

    init(existing name: String) {
        self.name = name
    }

    func remove() {
        try? Self.run("ip", ["netns", "delete", name])
    }

    /// Pipes `input` into `ip netns exec NAME tool…` through a temporary file.
    func load(_ input: String, with tool: [String]) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("settle-bench-\(UUID().uuidString)").path
        try input.write(toFile: path, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.run("ip", ["netns", "exec", name] + tool + [path])
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let m = try ProcessMeasurement.spawn(tool, arguments)
        guard m.status == 0 else { throw BenchError("\(([tool] + arguments).joined(separator: " ")) exited with status \(m.status)") }
    }
}
