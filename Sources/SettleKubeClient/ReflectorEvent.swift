public import SettleKube

/// What a ``Reflector`` hands its consumer: a full snapshot after each LIST, then individual changes.
public enum ReflectorEvent<T: KubeObject>: Sendable, Hashable {
    /// The complete current state (first list or a relist); anything not in it no longer exists.
    case replaced([T], resourceVersion: String)
    case added(T)
    case modified(T)
    case deleted(T)
    /// The watch has progressed to this RV with no change for the consumer.
    case bookmark(resourceVersion: String)
}
