import Foundation
import SettleAgent
import SettleConvergence
import SettleDataplaneLinux
import SettleModel
import SettleSelection
import SettleTestSupport
import Testing

/// The agent on an IPVS node: it polls the IPVS table, names the virtual server from the Services
/// it watches, and acknowledges the preStop flow as kube-proxy's graceful termination plays it
/// out (weight 0, then deletion). Needs root and a kernel with IPVS: the host kernel of the
/// project machines has none, so `.ci/vm-test` runs this in a VM (a Debian kernel under QEMU).
@Suite(
    .enabled(if: ScratchNamespace.isRoot, "needs root for network namespaces"),
    .enabled("needs a kernel with IPVS (CONFIG_IP_VS); .ci/vm-test runs this suite in a VM") { await IPVSReader.isAvailable() },
    .serialized)
struct IPVSAgentTests {
    typealias E = WebCluster.Endpoint

    @Test("IPVS (polled): named from the Service, stale while weight 1, drained at weight 0 and after deletion")
    func preStop() async throws {
        try await AgentHarness.with([E(ip: "10.1.0.1"), E(ip: "10.1.0.2")], dataplane: .ipvs) { h in
            #expect(await h.runtime.agent.mode == .ipvs)
            // Named from the Service: nothing is reported under an unknown service port.
            let start = await h.runtime.agent.report()
            #expect(start.endpoints.count == 2)
            #expect(start.endpoints.allSatisfy { $0.servicePort == WebCluster.servicePort && $0.state == .programmed })

            let acks = AckStreamClient()
            await acks.start(url: "http://127.0.0.1:\(h.httpPort)/v1/acks", client: h.http)
            try await h.setSlice([E(ip: "10.1.0.1"), E(ip: "10.1.0.2", ready: false, serving: false, terminating: true)])
            let generation = try await h.sliceGeneration()
            let stale = try await acks.wait(for: WebCluster.key("10.1.0.2")) { $0.state == .stale }
            #expect(stale.slice?.generation == generation && stale.reason == .terminating)
            try h.program(["10.1.0.1"])  // weight 0: draining, no new connections
            let drained = try await acks.wait(for: WebCluster.key("10.1.0.2")) { $0.state == .drained }
            #expect(drained.slice?.generation == generation)
            try await h.expectReportMatchesFreshRead()
            try h.ipvsDelete("10.1.0.2")
            try await h.expectReportMatchesFreshRead()
            #expect(await h.runtime.agent.counts()[.drained] == 1)

            // A new endpoint: missing until kube-proxy adds its real server.
            try await h.setSlice([E(ip: "10.1.0.1"), E(ip: "10.1.0.3")])
            _ = try await acks.wait(for: WebCluster.key("10.1.0.3")) { $0.state == .missing }
            try h.program(["10.1.0.1", "10.1.0.3"])
            _ = try await acks.wait(for: WebCluster.key("10.1.0.3")) { $0.state == .programmed }
            try await h.expectReportMatchesFreshRead()
            let metrics = try await h.get("/metrics").body
            #expect(metrics.contains("settle_agent_dataplane_resyncs_total{reason=\"poll\"}"))
            await acks.stop()
        }
    }

    /// `--mode auto` on an IPVS node picks IPVS, even though kube-proxy's IPVS mode keeps
    /// `KUBE-SERVICES` in iptables too.
    @Test("auto mode recognises IPVS by kube-ipvs0 and its virtual servers, before iptables")
    func autoMode() async throws {
        let ns = try ScratchNamespace("settle-ipvs")
        var configuration = AgentConfiguration(nodeName: "node-a")
        configuration.netns = ns.name
        let before = try await FollowerSelection.follower(for: configuration, logger: AgentHarness.quietLogger)
        #expect(before.0.mode == .nftables)
        try ns.exec("iptables-nft", ["-t", "nat", "-N", "KUBE-SERVICES"])
        try ns.exec("/usr/sbin/ip", ["link", "add", "kube-ipvs0", "type", "dummy"])
        try ns.exec("ipvsadm", ["-A", "-t", "172.30.0.10:80", "-s", "rr"])
        let after = try await FollowerSelection.follower(for: configuration, logger: AgentHarness.quietLogger)
        #expect(after.0.mode == .ipvs)
        #expect(after.note.contains("IPVS") && after.note.contains("1 virtual servers"))
    }
}
