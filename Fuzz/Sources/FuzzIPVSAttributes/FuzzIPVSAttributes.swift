import SettleDataplane
import SettleModel

/// One IPVS generic-netlink reply's attributes (after the genlmsghdr). The first byte chooses a
/// service or a destination message (and the destination's fallback family); the rest is the
/// attribute stream, copied to 4-byte-aligned memory as a netlink receive buffer is.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIPVSAttributes(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let selector = start[0]
    let words = [UInt32](unsafeUninitializedCapacity: count / 4 + 1) { buffer, initialized in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(start: start + 1, count: count - 1))
        initialized = count / 4 + 1
    }
    words.withUnsafeBytes { raw in
        let attributes = UnsafeRawBufferPointer(rebasing: raw.prefix(count - 1))
        switch selector % 3 {
        case 0: _ = try? IPVSMessageDecoder.service(attributes: attributes)
        case 1: _ = try? IPVSMessageDecoder.destination(attributes: attributes, serviceFamily: .ipv4)
        default: _ = try? IPVSMessageDecoder.destination(attributes: attributes, serviceFamily: .ipv6)
        }
    }
    return 0
}
