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

    /// The socket's file descriptor, for `poll`.
    var fileDescriptor: Int32 { mnl_socket_get_fd(socket) }

    /// Joins multicast group `group` (`NETLINK_ADD_MEMBERSHIP`), e.g. `NFNLGRP_NFTABLES` for
    /// nftables change events. Events arrive only for commits after this call.
    func subscribe(group: UInt32) throws(DataplaneError) {
        var value = Int32(group)
        guard setsockopt(fileDescriptor, Int32(SOL_NETLINK), Int32(NETLINK_ADD_MEMBERSHIP), &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw Self.error("subscribe to group \(group)", errno)
        }
    }

    /// Sets the receive buffer. With `force`, `SO_RCVBUFFORCE` first (CAP_NET_ADMIN; ignores
    /// `net.core.rmem_max`), falling back to `SO_RCVBUF`. Returns what the kernel reports (it
    /// doubles the request for bookkeeping).
    @discardableResult
    func setReceiveBuffer(bytes: Int, force: Bool) -> Int {
        var size = Int32(clamping: bytes)
        let length = socklen_t(MemoryLayout<Int32>.size)
        if !force || setsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUFFORCE, &size, length) != 0 {
            _ = setsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUF, &size, length)
        }
        var actual: Int32 = 0
        var actualLength = length
        _ = getsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUF, &actual, &actualLength)
        return Int(actual)
    }

    /// Receives one queued datagram without blocking and hands each of its messages to `handle`
    /// (event sockets: no sequence or port filtering). Returns `false` when nothing was queued.
    /// Event loss (`ENOBUFS`: the receive buffer overflowed) is thrown as `.netlink(errno: ENOBUFS)`.
    func receiveQueued(handle: (UnsafePointer<nlmsghdr>) -> Void) throws(DataplaneError) -> Bool {
        let received = buffer.withUnsafeMutableBytes { recv(fileDescriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if received < 0 {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return false }
            throw Self.error("receive events", code)
        }
        buffer.withUnsafeBytes { raw in
            var remaining = Int32(received)
            var header = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
            while Self.isWholeMessage(header, remaining) {
                handle(header)
                header = UnsafePointer(mnl_nlmsg_next(header, &remaining))
            }
        }
        return true
    }

    /// Whether `header` starts a whole message within the `remaining` received bytes: libmnl's
    /// `mnl_nlmsg_ok`, plus the length compared unsigned. `mnl_nlmsg_ok` compares `(int)nlmsg_len`,
    /// so a length of 2 GiB or more passes it: the message's parsers would then read past the
    /// buffer, and `mnl_nlmsg_next` aligns 0xfffffffd…0xffffffff to 0 and returns the same message
    /// forever (found by fuzzing, issue #9).
    static func isWholeMessage(_ header: UnsafePointer<nlmsghdr>, _ remaining: Int32) -> Bool {
        mnl_nlmsg_ok(header, remaining) && header.pointee.nlmsg_len <= UInt32(remaining)
    }

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
                while Self.isWholeMessage(header, remaining) {
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
