// swift-tools-version:5.4
import PackageDescription

/// Settle's libFuzzer targets (issue #9), kept out of the main package so `swift build` and
/// `swift test` never see them. The parser modules are the main package's own sources, reached
/// through symlinks in `Sources/` (a package cannot depend on another's targets unless they are
/// library products, and the main package exports none); the heavy edges (SettleKubeClient,
/// SettleDataplaneLinux) contribute only their pure parsing files. Built and run by `.ci/fuzz`:
/// `swift build --package-path Fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library`.
///
/// Tools version 5.4 on purpose: from 5.5 on, SwiftPM renames an executable's entry point and links
/// `--defsym main=<Module>_main`, which collides with libFuzzer's own `main`. The main package's
/// settings (Swift 6 mode, its upcoming features) are therefore passed as flags.
let swiftSettings: [SwiftSetting] = [
    .unsafeFlags(["-swift-version", "6", "-enable-upcoming-feature", "ExistentialAny", "-enable-upcoming-feature", "MemberImportVisibility"])
]

/// One executable per parser.
let fuzzers: [(name: String, dependencies: [Target.Dependency])] = [
    ("FuzzNFTJSON", ["SettleDataplane", "SettleModel"]),
    ("FuzzIPTablesSave", ["SettleDataplane", "SettleModel"]),
    ("FuzzNFTNetlink", ["SettleNFTNetlink", "SettleDataplane", "SettleModel", "CMNL", "CNFTNL"]),
    ("FuzzNFTMirror", ["SettleDataplane", "SettleModel"]),
    ("FuzzIPVSAttributes", ["SettleDataplane", "SettleModel"]),
    ("FuzzKubeObjects", ["SettleKube", "SettleSelection", "SettleModel"]),
    ("FuzzAckStream", ["SettleAcks"]),
    ("FuzzWatchEvents", ["SettleWatchDecoding", "SettleKube"]),
    ("FuzzTextValues", ["SettleModel"]),
]

let package = Package(
    name: "settle-fuzz",
    products: fuzzers.map { .executable(name: $0.name, targets: [$0.name]) },
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", .exact("6.2.2"))
    ],
    targets: [
        .systemLibrary(name: "CMNL", pkgConfig: "libmnl"),
        .systemLibrary(name: "CNFTNL", pkgConfig: "libnftnl"),
        .target(name: "SettleModel", swiftSettings: swiftSettings),
        .target(name: "SettleDataplane", dependencies: ["SettleModel"], swiftSettings: swiftSettings),
        .target(name: "SettleKube", dependencies: ["SettleModel", .product(name: "Yams", package: "Yams")], swiftSettings: swiftSettings),
        .target(name: "SettleSelection", dependencies: ["SettleModel", "SettleKube"], swiftSettings: swiftSettings),
        .target(name: "SettleConvergence", dependencies: ["SettleModel", "SettleSelection"], swiftSettings: swiftSettings),
        .target(name: "SettleAcks", dependencies: ["SettleModel", "SettleSelection", "SettleConvergence"], swiftSettings: swiftSettings),
        // SettleDataplaneLinux's netlink decoding files only (no subprocesses, logging or libnftables).
        .target(name: "SettleNFTNetlink", dependencies: ["SettleDataplane", "SettleModel", "CMNL", "CNFTNL"], swiftSettings: swiftSettings),
        // SettleKubeClient's watch framing and decoding files only (no HTTP client).
        .target(name: "SettleWatchDecoding", dependencies: ["SettleKube"], swiftSettings: swiftSettings),
    ] + fuzzers.map { .executableTarget(name: $0.name, dependencies: $0.dependencies, swiftSettings: swiftSettings) }
)
