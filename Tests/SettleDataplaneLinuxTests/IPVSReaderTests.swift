import Foundation
import SettleDataplane
import SettleDataplaneLinux
import SettleModel
import Testing

/// Whether this kernel has IPVS. The project machines' host kernel does not (no CONFIG_IP_VS, no
/// modules), so these tests skip there, saying so, and `.ci/vm-test` runs them in a Debian kernel
/// under QEMU.
let requiresIPVS = Testing.ConditionTrait.enabled(
    "needs a kernel with IPVS (CONFIG_IP_VS); .ci/vm-test runs this suite in a VM") { await IPVSReader.isAvailable() }

/// IPVS virtual servers programmed with `ipvsadm` as kube-proxy programs them (ClusterIP and LB IP
/// on `kube-ipvs0`, NodePort per node address, masquerading real servers of weight 1, weight 0 for
/// a draining TCP endpoint, UDP, SCTP, IPv6, ClientIP affinity) and read back with ``IPVSReader``.
@Suite(.serialized, requiresRoot, requiresIPVS)
struct IPVSReaderTests {
    /// A node's IPVS table for three Services, as `ipvsadm` commands.
    static let programmed: [[String]] = [
        ["-A", "-t", "172.30.0.10:80", "-s", "rr"],
        ["-a", "-t", "172.30.0.10:80", "-r", "10.244.1.7:8080", "-m", "-w", "1"],
        ["-a", "-t", "172.30.0.10:80", "-r", "10.244.2.9:8080", "-m", "-w", "0"],
        ["-a", "-t", "172.30.0.10:80", "-r", "10.244.3.3:8080", "-m", "-w", "1"],
        ["-A", "-t", "192.168.0.5:30080", "-s", "rr"],
        ["-a", "-t", "192.168.0.5:30080", "-r", "10.244.1.7:8080", "-m", "-w", "1"],
        ["-a", "-t", "192.168.0.5:30080", "-r", "10.244.2.9:8080", "-m", "-w", "0"],
        ["-a", "-t", "192.168.0.5:30080", "-r", "10.244.3.3:8080", "-m", "-w", "1"],
        ["-A", "-t", "198.51.100.7:80", "-s", "rr"],
        ["-a", "-t", "198.51.100.7:80", "-r", "10.244.1.7:8080", "-m", "-w", "1"],
        ["-a", "-t", "198.51.100.7:80", "-r", "10.244.3.3:8080", "-m", "-w", "1"],
        ["-A", "-u", "172.30.0.53:53", "-s", "rr"],
        ["-a", "-u", "172.30.0.53:53", "-r", "10.244.0.5:53", "-m", "-w", "1"],
        ["-a", "-u", "172.30.0.53:53", "-r", "10.244.0.6:53", "-m", "-w", "1"],
        ["-A", "-t", "[fd00:30::10]:443", "-s", "rr", "-p", "10800"],
        ["-a", "-t", "[fd00:30::10]:443", "-r", "[fd00:244::7]:8443", "-m", "-w", "1"],
        ["-a", "-t", "[fd00:30::10]:443", "-r", "[fd00:244::8]:8443", "-m", "-w", "0"],
        ["-A", "--sctp-service", "172.30.0.70:3868", "-s", "rr"],
        ["-a", "--sctp-service", "172.30.0.70:3868", "-r", "10.244.0.9:3868", "-m", "-w", "1"],
        ["-A", "-t", "172.30.0.99:80", "-s", "rr"],  // a Service without endpoints
    ]

    static func program(_ ns: TestNamespace) throws {
        try ns.exec("/usr/sbin/ip", ["link", "add", "kube-ipvs0", "type", "dummy"])
        for address in ["172.30.0.10/32", "198.51.100.7/32", "172.30.0.53/32", "172.30.0.70/32", "172.30.0.99/32"] {
            try ns.exec("/usr/sbin/ip", ["addr", "add", address, "dev", "kube-ipvs0"])
        }
        try ns.exec("/usr/sbin/ip", ["-6", "addr", "add", "fd00:30::10/128", "dev", "kube-ipvs0", "nodad"])
        for command in programmed { try ns.exec("ipvsadm", command) }
    }

    /// The Services of the programmed table.
    static let names = IPVSServiceNames([
        (name: ServicePortName(namespace: "shop", name: "web", port: "http"), protocol: L4Protocol.tcp, frontends: [
            Frontend(kind: .clusterIP, ip: IPAddress("172.30.0.10"), port: 80), Frontend(kind: .nodePort, ip: nil, port: 30080),
            Frontend(kind: .loadBalancer, ip: IPAddress("198.51.100.7"), port: 80),
        ]),
        (name: ServicePortName(namespace: "kube-system", name: "kube-dns", port: "dns"), protocol: .udp, frontends: [
            Frontend(kind: .clusterIP, ip: IPAddress("172.30.0.53"), port: 53)
        ]),
        (name: ServicePortName(namespace: "shop", name: "v6", port: "https"), protocol: .tcp, frontends: [
            Frontend(kind: .clusterIP, ip: IPAddress("fd00:30::10"), port: 443)
        ]),
        (name: ServicePortName(namespace: "tel", name: "sig", port: "sig"), protocol: .sctp, frontends: [
            Frontend(kind: .clusterIP, ip: IPAddress("172.30.0.70"), port: 3868)
        ]),
        (name: ServicePortName(namespace: "shop", name: "empty", port: ""), protocol: .tcp, frontends: [
            Frontend(kind: .clusterIP, ip: IPAddress("172.30.0.99"), port: 80)
        ]),
    ])

    static func rows(_ snapshot: DataplaneSnapshot) -> Set<String> {
        Set(snapshot.servicePorts.map { port in
            "\(port.service ?? "-"):\(port.port)/\(port.protocol.rawValue) [\(port.frontends.map(\.description).joined(separator: ", "))] -> \(port.endpoints.map(\.description).joined(separator: " "))"
        })
    }

    /// Without Services every virtual server is its own unnamed entry; weight 0 is not routed.
    @Test("raw read: one unnamed entry per virtual server, weight-0 real servers not routed")
    func raw() async throws {
        let ns = try TestNamespace()
        try Self.program(ns)
        let snapshot = try await IPVSReader(netns: ns.name).read()
        #expect(snapshot.mode == .ipvs)
        #expect(snapshot.warnings == [])
        #expect(Self.rows(snapshot) == [
            "-:/TCP [clusterIP 172.30.0.10:80] -> 10.244.1.7:8080 10.244.3.3:8080",
            "-:/TCP [nodePort 192.168.0.5:30080] -> 10.244.1.7:8080 10.244.3.3:8080",
            "-:/TCP [clusterIP 198.51.100.7:80] -> 10.244.1.7:8080 10.244.3.3:8080",
            "-:/UDP [clusterIP 172.30.0.53:53] -> 10.244.0.5:53 10.244.0.6:53",
            "-:/TCP [clusterIP [fd00:30::10]:443] -> [fd00:244::7]:8443",
            "-:/SCTP [clusterIP 172.30.0.70:3868] -> 10.244.0.9:3868",
            "-:/TCP [clusterIP 172.30.0.99:80] -> ",
        ])
    }

    /// With Services, virtual servers are joined per service port through their frontends.
    @Test("named read: ClusterIP, NodePort on a node address and LB IP join one service port")
    func named() async throws {
        let ns = try TestNamespace()
        try Self.program(ns)
        let snapshot = try await IPVSReader(netns: ns.name, fixedNames: Self.names).read()
        #expect(snapshot.warnings == [])
        #expect(Self.rows(snapshot) == [
            "shop/web:http/TCP [clusterIP 172.30.0.10:80, loadBalancer 198.51.100.7:80, nodePort 192.168.0.5:30080] -> 10.244.1.7:8080 10.244.3.3:8080",
            "kube-system/kube-dns:dns/UDP [clusterIP 172.30.0.53:53] -> 10.244.0.5:53 10.244.0.6:53",
            "shop/v6:https/TCP [clusterIP [fd00:30::10]:443] -> [fd00:244::7]:8443",
            "tel/sig:sig/SCTP [clusterIP 172.30.0.70:3868] -> 10.244.0.9:3868",
            "shop/empty:/TCP [clusterIP 172.30.0.99:80] -> ",
        ])
    }

    /// The reader's table equals what `ipvsadm -Sn` (libipvs, the other client of the same
    /// netlink interface) prints: every virtual server, real server, weight, scheduler and flag.
    @Test("the raw table equals ipvsadm -Sn, weights, schedulers and persistence included")
    func sameAsIpvsadm() async throws {
        let ns = try TestNamespace()
        try Self.program(ns)
        let table = try await IPVSReader(netns: ns.name).readTable()
        #expect(table.hasInterface)
        #expect(table.boundAddresses.count == 6)
        let saved = try ns.exec("ipvsadm", ["-Sn"])
        #expect(Self.saveLines(table.table) == Set(saved.split(separator: "\n").map(String.init)), "ipvsadm -Sn:\n\(saved)")
    }

    /// The reader follows changes: a weight set to 0, a real server deleted, a virtual server deleted.
    @Test("changes: weight 0 drains, deletion removes, a deleted virtual server disappears")
    func changes() async throws {
        let ns = try TestNamespace()
        try Self.program(ns)
        let reader = IPVSReader(netns: ns.name, fixedNames: Self.names)
        func web() async throws -> Set<String> {
            let port = try #require(try await reader.read().servicePorts.first { $0.service == "shop/web" })
            return Set(port.endpoints.map(\.description))
        }
        #expect(try await web() == ["10.244.1.7:8080", "10.244.3.3:8080"])
        try ns.exec("ipvsadm", ["-e", "-t", "172.30.0.10:80", "-r", "10.244.3.3:8080", "-m", "-w", "0"])
        // 10.244.3.3 is still routed through the NodePort and the LB IP: the union over frontends.
        #expect(try await web() == ["10.244.1.7:8080", "10.244.3.3:8080"])
        for vs in ["192.168.0.5:30080", "198.51.100.7:80"] {
            try ns.exec("ipvsadm", ["-e", "-t", vs, "-r", "10.244.3.3:8080", "-m", "-w", "0"])
        }
        #expect(try await web() == ["10.244.1.7:8080"])
        try ns.exec("ipvsadm", ["-e", "-t", "172.30.0.10:80", "-r", "10.244.2.9:8080", "-m", "-w", "1"])
        #expect(try await web() == ["10.244.1.7:8080", "10.244.2.9:8080"])
        try ns.exec("ipvsadm", ["-D", "-u", "172.30.0.53:53"])
        #expect(try await reader.read().servicePorts.contains { $0.service == "kube-system/kube-dns" } == false)
    }

    /// Dumps that span many netlink messages and datagrams are read whole.
    @Test("300 virtual servers with 4 real servers each are all read")
    func many() async throws {
        let ns = try TestNamespace()
        var script = ""
        for i in 0..<300 {
            let vs = "10.96.\(i / 250).\(i % 250 + 1):80"
            script += "-A -t \(vs) -s rr\n"
            for j in 0..<4 { script += "-a -t \(vs) -r 10.\(100 + j).\(i / 250).\(i % 250 + 1):8080 -m -w \(j == 3 ? 0 : 1)\n" }
        }
        try ns.exec("ipvsadm", ["-R"], input: script)
        let table = try await IPVSReader(netns: ns.name).readTable().table
        #expect(table.virtualServers.count == 300)
        #expect(table.virtualServers.allSatisfy { $0.destinations.count == 4 })
        let snapshot = table.snapshot()
        #expect(snapshot.servicePorts.count == 300)
        #expect(snapshot.servicePorts.allSatisfy { $0.endpoints.count == 3 })
        #expect(Self.saveLines(table) == Set(try ns.exec("ipvsadm", ["-Sn"]).split(separator: "\n").map(String.init)))
    }

    /// An empty table in a namespace without kube-ipvs0 reads as empty, with a note.
    @Test("no virtual servers: an empty snapshot that says so")
    func empty() async throws {
        let ns = try TestNamespace()
        let snapshot = try await IPVSReader(netns: ns.name).read()
        #expect(snapshot.servicePorts.isEmpty)
        #expect(snapshot.warnings.first?.contains("no IPVS virtual servers") == true)
        let probe = try await IPVSReader.probe(netns: ns.name)
        #expect(probe.available && !probe.looksLikeKubeProxy)
    }

    /// `ipvsadm -Sn` lines for a table: `-A -t VS -s SCHED [-p TIMEOUT]`, `-a -t VS -r RS -m -w W`.
    static func saveLines(_ table: IPVSTable) -> Set<String> {
        var lines: Set<String> = []
        for server in table.virtualServers {
            let flag = switch server.protocol {
            case .tcp: "-t"
            case .udp: "-u"
            case .sctp: "--sctp-service"
            }
            let vs = "\(flag) \(server.address.hostPort(server.port))"
            lines.insert("-A \(vs) -s \(server.scheduler)" + (server.flags & 1 != 0 ? " -p \(server.timeout)" : ""))
            for destination in server.destinations {
                let method = ["-m", "-i", "-i", "-g"][Int(destination.forwarding & 3)]
                lines.insert("-a \(vs) -r \(destination.endpoint) \(method) -w \(destination.weight)")
            }
        }
        return lines
    }
}

/// On a kernel without IPVS (the normal case on nftables nodes, and the project machines' host),
/// reading IPVS fails with a sentence saying exactly that, and probing says "not available".
@Suite(requiresRoot, .enabled("the kernel has IPVS") { await !IPVSReader.isAvailable() })
struct IPVSUnavailableTests {
    @Test("no IPVS in the kernel: a clear error, and auto's probe answers no")
    func unavailable() async throws {
        let ns = try TestNamespace()
        await #expect {
            try await IPVSReader(netns: ns.name).read()
        } throws: { error in
            guard let error = error as? DataplaneError, case .unsupported(let text) = error else { return false }
            return text.contains("IPVS is not available in this kernel") && text.contains("normal on nodes where kube-proxy runs in nftables or iptables mode")
        }
        let probe = try await IPVSReader.probe(netns: ns.name)
        #expect(!probe.available && !probe.looksLikeKubeProxy)
    }
}
