import Foundation
import SettleDataplane
import SettleModel

/// `nft -j list table …` output (the libnftables path): decode, then walk kube-proxy's table
/// into a snapshot, as `settle dataplane --via libnftables` does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNFTJSON(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = Data(UnsafeBufferPointer(start: start, count: count))
    guard let ruleset = try? NFTablesJSONDecoder.decode([data]) else { return 0 }
    _ = ruleset.kubeProxySnapshot()
    return 0
}
