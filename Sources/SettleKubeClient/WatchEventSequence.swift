import AsyncHTTPClient
import NIOCore
public import SettleKube

/// The events of one WATCH response, decoded as the body streams in.
///
/// Ends normally when the server closes the watch cleanly; throws ``KubeClientError/truncatedStream(bytes:)``
/// if it closed inside an event, and the transport's error if the connection broke or idled out.
public struct WatchEventSequence<T: KubeObject>: AsyncSequence {
    /// Each decoded event, in stream order.
    public typealias Element = WatchEvent<T>

    let body: HTTPClientResponse.Body
    let onSkippedLine: @Sendable (KubeClientError) -> Void

    /// Starts reading the response body.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(body: body.makeAsyncIterator(), onSkippedLine: onSkippedLine)
    }

    /// Pulls body chunks and decodes the lines they complete.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var body: HTTPClientResponse.Body.AsyncIterator
        let onSkippedLine: @Sendable (KubeClientError) -> Void
        var decoder = WatchEventDecoder<T>()
        var ready: [WatchEvent<T>] = []
        var finished = false

        /// The next event; nil when the server ended the watch cleanly.
        public mutating func next() async throws -> WatchEvent<T>? {
            while ready.isEmpty {
                if finished { return nil }
                guard let buffer = try await body.next() else {
                    finished = true
                    try decoder.finish()
                    return nil
                }
                for result in try decoder.feed(buffer.readableBytesView) {
                    switch result {
                    case .success(let event): ready.append(event)
                    case .failure(let error): onSkippedLine(error)
                    }
                }
            }
            return ready.removeFirst()
        }
    }
}
