public import SettleModel

/// Reads what one node's dataplane routes. One implementation per kube-proxy mode.
///
/// Readers never write to the dataplane. A reader that finds no kube-proxy state returns an empty
/// snapshot with a warning saying so; it throws only when it cannot read at all.
public protocol DataplaneReader: Sendable {
    /// The mode this reader reads.
    var mode: DataplaneMode { get }
    /// Reads the whole dataplane once.
    func read() async throws(DataplaneError) -> DataplaneSnapshot
}
