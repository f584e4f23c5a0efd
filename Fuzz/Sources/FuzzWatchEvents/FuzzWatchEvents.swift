import SettleKube
import SettleWatchDecoding

/// A watch response body as the reflector reads it: the first byte picks the object type
/// (EndpointSlice, Service, Node) and the chunk size; the rest is framed into lines (at most 1 KiB,
/// so the line limit is reached too) and decoded.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWatchEvents(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let selector = Int(start[0])
    let bytes = UnsafeBufferPointer(start: start + 1, count: count - 1)
    switch selector % 3 {
    case 0: decode(V1EndpointSlice.self, bytes, chunkSize: selector / 3 + 1)
    case 1: decode(V1Service.self, bytes, chunkSize: selector / 3 + 1)
    default: decode(V1Node.self, bytes, chunkSize: selector / 3 + 1)
    }
    return 0
}

private func decode<T: KubeObject>(_: T.Type, _ bytes: UnsafeBufferPointer<UInt8>, chunkSize: Int) {
    var decoder = WatchEventDecoder<T>(maximumLineLength: 1024)
    var offset = 0
    while offset < bytes.count {
        let end = min(offset + chunkSize, bytes.count)
        guard let results = try? decoder.feed(bytes[offset..<end]) else { return }
        for case .success(let event) in results { _ = event.resourceVersion }
        offset = end
    }
    try? decoder.finish()
}
