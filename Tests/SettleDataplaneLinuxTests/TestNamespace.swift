@_exported import SettleTestSupport
import Testing

/// The scratch network namespace of the kernel tests (shared with the other test targets).
typealias TestNamespace = ScratchNamespace

/// Skips kernel tests when not root, saying why.
let requiresRoot = Testing.ConditionTrait.enabled(if: ScratchNamespace.isRoot, "needs root for network namespaces")
