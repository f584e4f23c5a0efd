import ArgumentParser
import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleModel

/// `settle bench ipvs`: the cost of reading a kube-proxy-sized IPVS table, against `ipvsadm -Ln`
/// (libipvs: the same generic netlink dumps, printed as text) in the same run and namespace.
///
/// Needs a kernel with IPVS; on the project machines that is the VM (`.ci/vm/bench-ipvs`). Loads
/// `--services` virtual servers (ClusterIPs on `kube-ipvs0`, as kube-proxy binds them) with
/// `--endpoints` masquerading real servers each through `ipvsadm -R`, checks that the reader sees
/// all of them, then measures each reader as a separate process under GNU time (wall, peak RSS),
/// both started through `ip netns exec`.
struct IPVSBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipvs",
        abstract: "Measure reading an IPVS table at scale against ipvsadm -Ln (needs a kernel with IPVS: .ci/vm/bench-ipvs).")

    @Option(help: "Number of virtual servers.")
    var services = 10_000

    @Option(help: "Real servers per virtual server.")
    var endpoints = 5

    @Option(help: "Runs per reader; the median is reported.")
    var repetitions = 3

    @Option(help: "Also write the report (Markdown) to this file.")
    var out: String?

    func validate() throws {
        guard services > 0, services <= 60_000, endpoints > 0, endpoints <= 250, repetitions > 0 else {
            throw ValidationError("--services must be 1…60000, --endpoints 1…250, --repetitions positive")
        }
    }

    func run() async throws {
        guard geteuid() == 0 else { throw Terminal.failure("settle bench needs root (it creates a network namespace)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else {
            throw Terminal.failure("settle bench needs GNU time for peak memory (Debian: apt-get install time)")
        }
        let ns = try BenchNamespace()
        defer { ns.remove() }
        guard try await IPVSReader.probe(netns: ns.name).available else {
            throw Terminal.failure("this kernel has no IPVS; run the benchmark in the VM: .ci/vm/bench-ipvs")
        }
        let settle = try DataplaneBench.selfPath()
        Terminal.note("loading \(services) virtual servers × \(endpoints) real servers …")
        let loadStart = ContinuousClock.now
        try ns.load(Self.interfaceBatch(services: services), with: ["ip", "-batch"])
        try ns.load(Self.restoreInput(services: services, endpoints: endpoints), with: ["sh", "-c", "ipvsadm -R < \"$0\""])
        let load = ContinuousClock.now - loadStart

        // The answer must be right before its speed matters.
        let snapshot = try await IPVSReader(netns: ns.name).read()
        let routed = snapshot.servicePorts.reduce(0) { $0 + $1.endpoints.count }
        guard snapshot.servicePorts.count == services, routed == services * endpoints,
            snapshot.servicePorts.allSatisfy({ $0.frontends.first?.kind == .clusterIP })
        else {
            throw BenchError("read back \(snapshot.servicePorts.count) virtual servers / \(routed) endpoints, expected \(services) / \(services * endpoints)")
        }

        Terminal.note("measuring readers …")
        let ipvsadm = try ProcessMeasurement.median(repetitions, "ip", ["netns", "exec", ns.name, "ipvsadm", "-Ln"])
        let reader = try ProcessMeasurement.median(
            repetitions, "ip", ["netns", "exec", ns.name, settle, "dataplane", "--mode", "ipvs", "--format", "json"])
        let table = try ProcessMeasurement.median(
            repetitions, "ip", ["netns", "exec", ns.name, settle, "dataplane", "--mode", "ipvs", "--format", "table"])

        var report = "# settle bench ipvs\n\n"
        report += "\(services) virtual servers × \(endpoints) real servers, median of \(repetitions) runs, \(DataplaneBench.hostLine())\n"
        report += "Command: `settle bench ipvs --services \(services) --endpoints \(endpoints) --repetitions \(repetitions)`\n\n"
        report += "Loaded (\(services) addresses on kube-ipvs0 with `ip -batch`, then `ipvsadm -R`) in \(DataplaneBench.format(load)).\n\n"
        report += DataplaneBench.table(baseline: ipvsadm, rows: [
            ("`ipvsadm -Ln` (libipvs, text)", ipvsadm),
            ("`settle dataplane --mode ipvs --format json`", reader),
            ("`settle dataplane --mode ipvs --format table`", table),
        ])
        report += "\nsettle / ipvsadm: wall \(DataplaneBench.ratio(reader.seconds / ipvsadm.seconds)), "
        report += "peak RSS \(DataplaneBench.ratio(Double(reader.peakRSSBytes) / Double(max(1, ipvsadm.peakRSSBytes)))) (JSON output).\n"
        print(report, terminator: "")
        if let out { try report.write(toFile: out, atomically: true, encoding: .utf8) }
    }

    /// ClusterIP `i`: 10.96.0.0/12 from 10.96.0.1 on.
    static func clusterIP(_ i: Int) -> IPAddress { .v4(0x0A60_0000 + UInt32(i) + 1) }

    /// `ip -batch` input: kube-ipvs0 and every ClusterIP on it.
    static func interfaceBatch(services: Int) -> String {
        var out = "link add kube-ipvs0 type dummy\n"
        for i in 0..<services { out += "addr add \(clusterIP(i))/32 dev kube-ipvs0\n" }
        return out
    }

    /// `ipvsadm -R` input: a virtual server per ClusterIP:80, `endpoints` real servers on 8080 (pods
    /// from 10.128.0.0/9), as kube-proxy programs them (rr, masquerade, weight 1).
    static func restoreInput(services: Int, endpoints: Int) -> String {
        var out = ""
        out.reserveCapacity(services * (endpoints + 1) * 60)
        for i in 0..<services {
            let vs = "\(clusterIP(i)):80"
            out += "-A -t \(vs) -s rr\n"
            for j in 0..<endpoints {
                out += "-a -t \(vs) -r \(IPAddress.v4(0x0A80_0000 + UInt32(i * endpoints + j) + 1)):8080 -m -w 1\n"
            }
        }
        return out
    }
}
