import SettleModel

/// Short texts from flags, query strings and chain names, one per line: durations (`--timeout`,
/// the aggregator's `wait=`, which allows any length), IP addresses (`/v1/endpoints/{ip}`,
/// `--ip`), service port names and protocols. A parsed address must print back to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTextValues(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        _ = DurationText.parse(line)
        _ = DurationText.parse(line, maximumSeconds: .infinity)
        if let address = IPAddress(line) {
            precondition(IPAddress(address.description) == address, "\(address) does not parse back to itself")
        }
        _ = ServicePortName(parsing: line)
        _ = L4Protocol(caseInsensitive: line)
    }
    return 0
}
