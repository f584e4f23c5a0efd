import SettleDataplane
import SettleModel

/// `iptables-save` text: tokenize and parse every line, then walk kube-proxy's chains as the
/// IPv4 and as the IPv6 dump (the walk checks addresses against the family).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIPTablesSave(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    _ = IPTablesWalker.snapshot(ipv4Text: text, ipv6Text: nil)
    _ = IPTablesWalker.snapshot(ipv4Text: nil, ipv6Text: text)
    return 0
}
