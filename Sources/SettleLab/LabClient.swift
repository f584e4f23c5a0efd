import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The lab's traffic: new TCP connections at a steady rate to one address (a Service's ClusterIP,
/// so every connection goes through the node's real kube-proxy rules), one line per attempt on
/// standard output: `START_MS RESULT BACKEND`, RESULT one of ``LabConnectionResult``.
public enum LabClient {
    /// Opens `rate` connections a second to `host:port` until killed; never returns.
    public static func run(host: String, port: Int, rate: Int, timeout: Duration) -> Never {
        signal(SIGPIPE, SIG_IGN)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            LabClock.printLine("error bad address \(host)")
            exit(2)
        }
        let target = address
        let timeoutMs = Int32(timeout.milliseconds)
        let interval = 1_000_000_000 / UInt64(max(rate, 1))
        var next = DispatchTime.now().uptimeNanoseconds
        while true {
            DispatchQueue.global().async {
                let start = LabClock.nowMilliseconds()
                let (result, backend) = attempt(target, timeoutMs: timeoutMs)
                LabClock.printLine("\(start) \(result.rawValue) \(backend ?? "-")")
            }
            next += interval
            let now = DispatchTime.now().uptimeNanoseconds
            if next > now { usleep(UInt32((next - now) / 1000)) } else { next = now }
        }
    }

    static func attempt(_ target: sockaddr_in, timeoutMs: Int32) -> (LabConnectionResult, String?) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return (.error, nil) }
        defer { close(fd) }
        var address = target
        let started = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if started != 0 {
            guard errno == EINPROGRESS else { return (classify(errno), nil) }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&poller, 1, timeoutMs) == 1 else { return (.timeout, nil) }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 { return (classify(error), nil) }
        }
        let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else { return (classify(errno), nil) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, timeoutMs) == 1 else { return (.timeout, nil) }
            let count = read(fd, &buffer, buffer.count)
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return (classify(errno), nil)
            }
            if count == 0 { break }
            received += buffer[0..<count]
        }
        guard let body = LabConnectionResult.body(of: received) else { return (.reset, nil) }
        return (.ok, body)
    }

    static func classify(_ code: Int32) -> LabConnectionResult {
        switch code {
        case ECONNREFUSED: .refused
        case ECONNRESET, EPIPE: .reset
        case ETIMEDOUT, EHOSTUNREACH, ENETUNREACH: .timeout
        default: .error
        }
    }
}

/// What one connection attempt came to.
public enum LabConnectionResult: String, Sendable, Hashable, Codable, CaseIterable {
    /// Connected and answered by a backend.
    case ok
    /// RST to the SYN: nothing listens at the address the node chose.
    case refused
    /// Connected, then reset or closed without an answer.
    case reset
    /// No answer within the client's timeout.
    case timeout
    /// Any other socket error.
    case error

    /// The backend's name from an HTTP response, or `nil` when `bytes` is not a whole one.
    static func body(of bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.0 200"), let split = text.range(of: "\r\n\r\n") else { return nil }
        let body = text[split.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
        return body.isEmpty ? nil : body
    }
}
