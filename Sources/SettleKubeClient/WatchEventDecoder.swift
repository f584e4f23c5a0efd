import Foundation
public import SettleKube

/// Turns watch response bytes into ``WatchEvent``s: framing plus JSON decoding, no I/O.
///
/// A line that frames but does not decode is reported as a failure result rather than thrown, so the
/// caller can count and skip it and keep the stream; only framing problems end the stream.
public struct WatchEventDecoder<T: KubeObject>: Sendable {
    private var framer: WatchLineFramer

    /// A decoder refusing lines longer than `maximumLineLength` bytes.
    public init(maximumLineLength: Int = 64 << 20) {
        framer = WatchLineFramer(maximumLineLength: maximumLineLength)
    }

    /// Feeds bytes; returns one result per completed line, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(KubeClientError) -> [Result<WatchEvent<T>, KubeClientError>] {
        try framer.append(bytes).map(Self.decode)
    }

    /// Call at end of stream; throws if the stream stopped inside a line.
    public func finish() throws(KubeClientError) {
        try framer.finish()
    }

    /// Decodes one complete line.
    public static func decode(_ line: [UInt8]) -> Result<WatchEvent<T>, KubeClientError> {
        do {
            return .success(try JSONDecoder().decode(WatchEventEnvelope<T>.self, from: Data(line)).event)
        } catch {
            return .failure(.decoding("watch event: \(error)"))
        }
    }
}
