import SettleAcks

/// An agent's `/v1/acks` stream as the aggregator reads it: the first byte sets the chunk size the
/// rest arrives in (TCP cuts anywhere), with a small line limit so overlong lines are reached too.
/// Every decoded message is encoded again (as `/v1/state` and the agent's stream do); not compared,
/// since the wire keeps milliseconds and an input may carry finer times.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAckStream(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let chunkSize = Int(start[0]) + 1
    let bytes = UnsafeBufferPointer(start: start + 1, count: count - 1)
    var decoder = AckStreamDecoder(maxLineBytes: 1024)
    var offset = 0
    while offset < bytes.count {
        let end = min(offset + chunkSize, bytes.count)
        guard let messages = try? decoder.feed(UnsafeBufferPointer(rebasing: bytes[offset..<end])) else { return 0 }
        for message in messages {
            _ = AckWire.encode(message)
        }
        offset = end
    }
    _ = AckWire.parseWireTime(String(decoding: bytes.prefix(64), as: UTF8.self))
    return 0
}
