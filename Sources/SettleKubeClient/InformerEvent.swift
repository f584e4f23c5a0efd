public import SettleKube

/// A change to an ``Informer``'s cache, with the object before and after where both exist.
public enum InformerEvent<T: KubeObject>: Sendable, Hashable {
    case added(T)
    case updated(old: T, new: T)
    /// `finalStateUnknown` is true when the deletion was inferred from a relist (the object was missing),
    /// so the object is the last one seen rather than the deleted one (client-go's `DeletedFinalStateUnknown`).
    case deleted(T, finalStateUnknown: Bool)
    /// The first full list has been applied: the cache is complete from now on.
    case synced
}
