#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGTERM; read by the accept loop.
nonisolated(unsafe) private var backendTerminated: sig_atomic_t = 0

/// A lab pod's server: answers every connection with one HTTP response naming the pod, then closes
/// it. On SIGTERM it accepts what the kernel already queued, closes its listening socket (new
/// connections are then refused, as with a real server shutting down) and exits.
public enum LabBackend {
    /// Serves on `port` (all addresses of this network namespace) until SIGTERM; never returns.
    public static func run(port: Int, name: String) -> Never {
        signal(SIGTERM) { _ in backendTerminated = 1 }
        signal(SIGPIPE, SIG_IGN)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { fail("socket") }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: INADDR_ANY)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 512) == 0 else { fail("bind/listen on port \(port)") }
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        let response = Array("HTTP/1.0 200 OK\r\nContent-Length: \(name.utf8.count + 1)\r\nConnection: close\r\n\r\n\(name)\n".utf8)
        LabClock.printLine("listening \(name) :\(port)")

        while backendTerminated == 0 {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            _ = poll(&poller, 1, 20)
            acceptQueued(listener, response)
        }
        // Connections the kernel completed before the close are served, not reset.
        acceptQueued(listener, response)
        close(listener)
        LabClock.printLine("terminated \(name)")
        exit(0)
    }

    private static func acceptQueued(_ listener: Int32, _ response: [UInt8]) {
        while true {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            serve(connection, response)
        }
    }

    private static func serve(_ connection: Int32, _ response: [UInt8]) {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 1024)
        _ = read(connection, &buffer, buffer.count)  // the request line; its content does not matter
        _ = response.withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
        close(connection)
    }

    private static func fail(_ what: String) -> Never {
        LabClock.printLine("error \(what): \(String(cString: strerror(errno)))")
        exit(1)
    }
}

/// Wall-clock milliseconds, shared by the lab and its child processes (one host, one clock).
public enum LabClock {
    public static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Writes one line to standard output with a single write(2), so lines from threads never mix
    /// and nothing waits in a buffer when the process is killed.
    static func printLine(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
}
