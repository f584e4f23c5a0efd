import CMNL
import CNFTNL
import SettleDataplane
import SettleModel
@testable import SettleNFTNetlink

/// A netlink receive buffer of nftables messages (`NFT_MSG_NEW*`/`DEL*`, as the dump replies and
/// the change monitor deliver them): each whole message (``NetlinkSocket/isWholeMessage(_:_:)``, as
/// the socket's receive loops check) goes through the event decoder (libnftnl parsing, then Settle's expression, set and
/// element copying), every `NEWRULE` also through the dump's rule decoder, and the changes are
/// applied to a mirror whose snapshot is walked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNFTNetlink(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    // Netlink buffers are 4-byte aligned.
    var words = [UInt32](repeating: 0, count: count / 4 + 1)
    words.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: start, count: count)) }
    let interner = StringInterner()
    var changes: [NFTChange] = []
    words.withUnsafeMutableBytes { raw in
        var header = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
        var remaining = Int32(count)
        while NetlinkSocket.isWholeMessage(header, remaining) {
            if case .change(let change) = NFTablesEventDecoder.decode(header, interner: interner) { changes.append(change) }
            if UInt32(header.pointee.nlmsg_type) & 0xff == NFT_MSG_NEWRULE.rawValue {
                _ = NFTablesExpressionDecoder.rule(header, table: nil, interner: interner)
            }
            header = mnl_nlmsg_next(header, &remaining)
        }
    }
    var mirror = NFTMirror()
    _ = mirror.apply(changes)
    _ = mirror.snapshot()
    return 0
}
