import Foundation
import Testing

/// The `settle` binary as an operator runs it: exit codes, one-line errors, the JSON contract of
/// brief §6. Needs the built binary (`swift build` first; CI does) and root for namespaces.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root for network namespaces"))
struct CLITests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var binary: String {
        get throws {
            for candidate in [".build/debug/settle", ".build/release/settle"] {
                let path = packageRoot.appendingPathComponent(candidate).path
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
            throw CLIError("build the settle binary first (swift build)")
        }
    }

    struct CLIError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        let inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs `body` with a fresh namespace name, removing the namespace afterwards.
    static func withNamespace<T>(_ body: (String) throws -> T) throws -> T {
        let name = "settle-cli-\(UInt32.random(in: 0...UInt32.max))"
        _ = try run("/usr/sbin/ip", ["netns", "add", name])
        defer { _ = try? run("/usr/sbin/ip", ["netns", "delete", name]) }
        return try body(name)
    }

    @Test("dataplane --format json prints brief §6's shape, with an explicit null-free service and typed frontends")
    func dataplaneJSON() throws {
        let settle = try Self.binary
        try Self.withNamespace { ns in
            let load = try Self.run("/usr/sbin/ip", ["netns", "exec", ns, "nft", "-f", "-"], input: """
                table ip kube-proxy {
                  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }
                  map service-nodeports { type inet_proto . inet_service : verdict; }
                  chain service-ULMVA6XW-ns1/svc1/tcp/p80 { meta l4proto tcp dnat to 10.180.0.1:80; }
                }
                add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
                add element ip kube-proxy service-nodeports { tcp . 30080 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }
                """)
            #expect(load.status == 0, "\(load.stderr)")
            let result = try Self.run(settle, ["dataplane", "--netns", ns, "--format", "json"])
            #expect(result.status == 0, "\(result.stderr)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(document["mode"] as? String == "nftables")
            let ports = try #require(document["servicePorts"] as? [[String: Any]])
            #expect(ports.count == 1)
            let port = try #require(ports.first)
            #expect(port["service"] as? String == "ns1/svc1")
            #expect(port["port"] as? String == "p80")
            #expect(port["protocol"] as? String == "TCP")
            let frontends = try #require(port["frontends"] as? [[String: Any]])
            #expect(frontends.count == 2)
            #expect(frontends.contains { $0["kind"] as? String == "clusterIP" && $0["ip"] as? String == "172.30.0.41" && $0["port"] as? Int == 80 })
            #expect(frontends.contains { $0["kind"] as? String == "nodePort" && $0["ip"] == nil && $0["port"] as? Int == 30080 })
            let endpoints = try #require(port["endpoints"] as? [[String: Any]])
            #expect(endpoints.count == 1)
            #expect(endpoints.first?["ip"] as? String == "10.180.0.1" && endpoints.first?["port"] as? Int == 80)
            #expect(result.stderr.contains("mode auto: found kube-proxy's nftables tables"))
        }
    }

    @Test("a missing namespace is one error line and exit status 2")
    func missingNamespace() throws {
        let result = try Self.run(try Self.binary, ["dataplane", "--netns", "settle-no-such-namespace"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("error: network namespace \"settle-no-such-namespace\" not found") == true)
    }

    @Test("no kube-proxy rules at all: empty answer, a note, exit 0 — in every mode")
    func emptyNamespace() throws {
        let settle = try Self.binary
        try Self.withNamespace { ns in
            for mode in ["auto", "nftables", "iptables"] {
                let result = try Self.run(settle, ["dataplane", "--netns", ns, "--mode", mode, "--format", "json"])
                #expect(result.status == 0, "\(mode): \(result.stderr)")
                let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
                #expect((document["servicePorts"] as? [Any])?.isEmpty == true, "\(mode)")
                #expect(result.stderr.contains("no kube-proxy"), "\(mode): \(result.stderr)")
            }
        }
    }

    @Test("without CAP_NET_ADMIN every mode fails with one line saying so, exit status 2")
    func withoutPrivileges() throws {
        let settle = try Self.binary
        for mode in ["nftables", "iptables"] {
            // As `nobody`: no capabilities at all.
            let result = try Self.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", settle, "dataplane", "--mode", mode])
            #expect(result.status == 2, "\(mode): \(result.stderr)")
            #expect(result.stdout.isEmpty)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(mode): \(result.stderr)")
            #expect(lines.first?.hasPrefix("error: permission denied") == true, "\(mode): \(result.stderr)")
            #expect(lines.first?.contains("CAP_NET_ADMIN") == true)
        }
    }

    @Test("bad flag values are usage errors, not crashes")
    func badFlags() throws {
        let result = try Self.run(try Self.binary, ["dataplane", "--mode", "ipvx"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--mode"))
    }

    @Test("the dataplane benchmark runs end to end at a small size and reports its ratios")
    func benchSmoke() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else {
            Issue.record("GNU time is missing: run .ci/install-deps")
            return
        }
        let result = try Self.run(try Self.binary, ["bench", "dataplane", "--services", "40", "--repetitions", "1", "--layouts", "inlineMap"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("`settle dataplane --format json` (netlink + libnftnl)"))
        #expect(result.stdout.contains("## iptables (nft backend)"))
        #expect(result.stdout.contains("Targets: netlink within 1.2× of the floor"))
    }
}
