import CMNL
import Testing

@testable import SettleDataplaneLinux

/// Walking a received netlink datagram message by message: only whole messages are handed on
/// (issue #9: the nftables netlink fuzzer hung on a message claiming 4 GiB).
struct NetlinkMessageTests {
    /// A message claiming more bytes than were received is not whole, also at 2 GiB and beyond,
    /// which libmnl's signed length comparison lets through (and 0xfffffffd… never advance).
    @Test(arguments: [UInt32(0x8000_0000), 0xffff_fffd, 0xffff_ffff])
    func hugeLengthIsNotWhole(length: UInt32) {
        let (libmnl, settle) = Self.check(length: length, received: 64)
        #expect(libmnl, "libmnl's own check accepts it (the bug the fix works around)")
        #expect(!settle)
    }

    /// A message longer than the datagram, or shorter than its header, is not whole either.
    @Test(arguments: [UInt32(65), 15, 0])
    func otherBadLengthsAreNotWhole(length: UInt32) {
        #expect(!Self.check(length: length, received: 64).settle)
    }

    /// Messages that fit, exactly or with room to spare, are whole.
    @Test(arguments: [UInt32(16), 20, 64])
    func fittingMessageIsWhole(length: UInt32) {
        #expect(Self.check(length: length, received: 64).settle)
    }

    /// `mnl_nlmsg_ok` and ``NetlinkSocket/isWholeMessage(_:_:)`` on a 64-byte buffer whose first
    /// message header says `length`.
    static func check(length: UInt32, received: Int32) -> (libmnl: Bool, settle: Bool) {
        var words = [UInt32](repeating: 0, count: Int(received) / 4)
        words[0] = length
        return words.withUnsafeBytes { raw in
            let header = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
            return (mnl_nlmsg_ok(header, received), NetlinkSocket.isWholeMessage(header, received))
        }
    }
}
