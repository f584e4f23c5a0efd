#if os(Linux)
import CMNL
import Glibc
import SettleDataplane

/// A libmnl netlink socket used from one thread at a time for request/dump exchanges.
///
/// Not `Sendable`: it lives on the thread that opened it (see ``NetworkNamespace``).
final class NetlinkSocket {
    private let socket: OpaquePointer
    private let portID: UInt32
    private var sequence: UInt32
    private var buffer: [UInt8]

    init(bus: Int32, receiveBufferBytes: Int = 1 << 20) throws(DataplaneError) {
        guard let socket = mnl_socket_open(bus) else { throw Self.error("socket", errno) }
        guard mnl_socket_bind(socket, 0, pid_t(0)) == 0 else {
            let e = errno
            mnl_socket_close(socket)
            throw Self.error("bind", e)
        }
        self.socket = socket
        self.portID = mnl_socket_get_portid(socket)
        self.sequence = UInt32(truncatingIfNeeded: time(nil))
        // Large dumps arrive faster with room for several kernel batches per read.
        var size = Int32(receiveBufferBytes)
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        self.buffer = [UInt8](repeating: 0, count: 256 * 1024)
    }

    deinit { mnl_socket_close(socket) }

    static func error(_ operation: String, _ code: Int32) -> DataplaneError {
        if code == EPERM || code == EACCES { return .permissionDenied("netlink (\(operation))") }
        return .netlink(operation: operation, errno: code)
    }

    /// Sends one request built into a scratch buffer by `build(buffer, sequence)` — which returns
    /// the message length — and hands every reply message to `handle` until the kernel says done
    /// (`NLMSG_DONE` for dumps, the single reply otherwise). An interrupted dump
    /// (`NLM_F_DUMP_INTR`: the ruleset changed while it was read) is reported as `EINTR` so the
    /// caller can start over.
    func exchange(
        operation: String, dump: Bool,
        build: (UnsafeMutablePointer<CChar>, UInt32) -> Int,
        handle: (UnsafePointer<nlmsghdr>) throws(DataplaneError) -> Void
    ) throws(DataplaneError) {
        sequence &+= 1
        let seq = sequence
        var request = [CChar](repeating: 0, count: 16 * 1024)
        let length = request.withUnsafeMutableBufferPointer { build($0.baseAddress!, seq) }
        let sent = request.withUnsafeBufferPointer { mnl_socket_sendto(socket, $0.baseAddress, length) }
        guard sent >= 0 else { throw Self.error("\(operation) send", errno) }

        var interrupted = false
        while true {
            let received = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
            guard received >= 0 else { throw Self.error("\(operation) receive", errno) }
            var finished = false
            var failure: DataplaneError?
            buffer.withUnsafeBytes { raw in
                var remaining = Int32(received)
                var header = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
                while mnl_nlmsg_ok(header, remaining) {
                    defer { header = UnsafePointer(mnl_nlmsg_next(header, &remaining)) }
                    let message = header.pointee
                    guard message.nlmsg_seq == seq, message.nlmsg_pid == portID || message.nlmsg_pid == 0 else { continue }
                    if Int32(message.nlmsg_flags) & NLM_F_DUMP_INTR != 0 { interrupted = true }
                    switch Int32(message.nlmsg_type) {
                    case NLMSG_DONE:
                        finished = true
                        return
                    case NLMSG_ERROR:
                        let code = mnl_nlmsg_get_payload(header).assumingMemoryBound(to: Int32.self).pointee
                        if code != 0 { failure = Self.error(operation, -code) }
                        finished = true
                        return
                    case NLMSG_NOOP:
                        continue
                    default:
                        do throws(DataplaneError) {
                            try handle(header)
                        } catch {
                            failure = error
                            finished = true
                            return
                        }
                    }
                }
            }
            if let failure { throw failure }
            if finished || !dump { break }
        }
        if interrupted { throw .netlink(operation: "\(operation) (ruleset changed during the dump)", errno: EINTR) }
    }
}
#endif
