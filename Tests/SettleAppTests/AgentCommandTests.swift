import Foundation
import Testing

/// `settle agent` as the DaemonSet runs it: a node name is required, bad flags are usage errors,
/// and SIGTERM ends it cleanly (exit 0) even while the API server is unreachable.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root for network namespaces"))
struct AgentCommandTests {
    @Test("without --node or NODE_NAME the agent says so in one line and exits 2")
    func missingNode() throws {
        let result = try CLITests.run("/usr/bin/env", ["-u", "NODE_NAME", try CLITests.binary, "agent", "--server", "http://127.0.0.1:1"])
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").last?.hasPrefix("error: no node name") == true, "\(result.stderr)")
    }

    @Test("bad flag values are usage errors (exit 64)", arguments: [
        ["--listen", "nowhere"], ["--receive-buffer", "12"], ["--poll-interval", "fast"], ["--mode", "ipvx"],
    ])
    func badFlags(_ flags: [String]) throws {
        let result = try CLITests.run(try CLITests.binary, ["agent", "--node", "n1"] + flags)
        #expect(result.status == 64, "\(flags): \(result.stderr)")
        #expect(result.stderr.contains(flags[0]), "\(result.stderr)")
    }

    @Test("--help explains the endpoints and the permissions")
    func help() throws {
        let result = try CLITests.run(try CLITests.binary, ["agent", "--help"])
        #expect(result.status == 0)
        for word in ["/v1/acks", "/readyz", "CAP_NET_ADMIN", "NODE_NAME", "SIGTERM"] {
            #expect(result.stdout.contains(word), "\(word)")
        }
    }

    /// Started with an API server that never answers, the agent serves `/healthz`, is not ready,
    /// and stops within a second of SIGTERM with status 0, logging JSON lines.
    @Test("SIGTERM stops a running agent gracefully, exit 0, JSON logs")
    func sigterm() async throws {
        try await CLITests.withNamespaceAsync { ns in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try CLITests.binary)
            process.arguments = ["agent", "--node", "n1", "--server", "http://127.0.0.1:1", "--netns", ns, "--listen", "127.0.0.1:0"]
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            // The bound port is logged once listening.
            var log = ""
            let deadline = ContinuousClock.now + .seconds(30)
            while !log.contains("\"agent HTTP listening\""), ContinuousClock.now < deadline {
                log += String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
            }
            let line = try #require(log.split(separator: "\n").first { $0.contains("\"agent HTTP listening\"") })
            let entry = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
            let port = try #require(entry?["port"].flatMap { Int($0) })
            #expect(entry?["level"] == "info" && entry?["node"] == "n1")

            #expect(try CLITests.httpStatus(port: port, path: "/healthz") == 200)
            #expect(try CLITests.httpStatus(port: port, path: "/readyz") == 503)

            let stop = ContinuousClock.now
            process.terminate()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(ContinuousClock.now - stop < .seconds(10))
            let rest = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(rest.contains("\"stopped\""), "\(rest)")
        }
    }
}

extension CLITests {
    static func withNamespaceAsync<T>(_ body: (String) async throws -> T) async throws -> T {
        let name = "settle-cli-\(UInt32.random(in: 0...UInt32.max))"
        _ = try run("/usr/sbin/ip", ["netns", "add", name])
        defer { _ = try? run("/usr/sbin/ip", ["netns", "delete", name]) }
        return try await body(name)
    }

    /// The status code of `GET http://127.0.0.1:PORT/PATH`, with curl-free plain sockets.
    static func httpStatus(port: Int, path: String) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CLIError("socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw CLIError("connect to \(port): errno \(errno)") }
        let request = "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        let head = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self)
        guard let status = head.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { throw CLIError("no status in \(head)") }
        return status
    }
}
