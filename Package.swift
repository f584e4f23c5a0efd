// swift-tools-version:6.1
import PackageDescription

/// One setting list for every Swift target (see docs/development.md).
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "settle",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "settle", targets: ["settle"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // MARK: - C libraries (Linux only; the only modules that import C)
        .systemLibrary(name: "CMNL", pkgConfig: "libmnl", providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(name: "CNFTNL", pkgConfig: "libnftnl", providers: [.apt(["libnftnl-dev"])]),
        .systemLibrary(name: "CNFTables", pkgConfig: "libnftables", providers: [.apt(["libnftables-dev"])]),

        // MARK: - Pure core
        .target(name: "SettleModel", swiftSettings: swiftSettings),
        .target(name: "SettleDataplane", dependencies: ["SettleModel"], swiftSettings: swiftSettings),
        .target(
            name: "SettleKubeProxyRules",
            dependencies: ["SettleModel", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SettleKube",
            dependencies: ["SettleModel", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(name: "SettleSelection", dependencies: ["SettleModel", "SettleKube"], swiftSettings: swiftSettings),
        .target(name: "SettleConvergence", dependencies: ["SettleModel", "SettleSelection"], swiftSettings: swiftSettings),

        // MARK: - Edges
        .target(
            name: "SettleDataplaneLinux",
            dependencies: [
                "SettleModel", "SettleDataplane",
                .target(name: "CMNL", condition: .when(platforms: [.linux])),
                .target(name: "CNFTNL", condition: .when(platforms: [.linux])),
                .target(name: "CNFTables", condition: .when(platforms: [.linux])),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SettleKubeClient",
            dependencies: [
                "SettleKube",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SettleAPIServer",
            dependencies: [
                "SettleKube",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The acknowledgement stream's messages and wire format, shared by the agent and the aggregator.
        .target(
            name: "SettleAcks", dependencies: ["SettleModel", "SettleSelection", "SettleConvergence"],
            swiftSettings: swiftSettings),
        .target(
            name: "SettleAgent",
            dependencies: [
                "SettleModel", "SettleDataplane", "SettleDataplaneLinux", "SettleKube", "SettleSelection",
                "SettleConvergence", "SettleKubeClient", "SettleAcks",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The aggregator's pure core: the endpoint index, node views, wait answers.
        .target(
            name: "SettleAggregation", dependencies: ["SettleModel", "SettleKube", "SettleAcks", "SettleConvergence", "SettleSelection"],
            swiftSettings: swiftSettings),
        .target(
            name: "SettleAggregator",
            dependencies: [
                "SettleModel", "SettleKube", "SettleKubeClient", "SettleAcks", "SettleAggregation", "SettleConvergence",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `settle lab`: a cluster of network namespaces, real kube-proxy rules, real agents and an aggregator.
        .target(
            name: "SettleLab",
            dependencies: [
                "SettleModel", "SettleKube", "SettleSelection", "SettleKubeProxyRules", "SettleAPIServer", "SettleKubeClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SettleApp",
            dependencies: [
                "SettleModel", "SettleDataplane", "SettleDataplaneLinux", "SettleKubeProxyRules",
                "SettleKube", "SettleSelection", "SettleConvergence", "SettleKubeClient", "SettleAPIServer", "SettleAgent",
                "SettleAcks", "SettleAggregation", "SettleAggregator", "SettleLab",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "settle", dependencies: ["SettleApp"], swiftSettings: swiftSettings),

        // MARK: - Tests
        .target(name: "SettleTestSupport", path: "Tests/SettleTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "SettleDataplaneTests", dependencies: ["SettleDataplane", "SettleModel"],
                    resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "SettleDataplaneLinuxTests",
            dependencies: ["SettleDataplaneLinux", "SettleTestSupport", "SettleDataplane", "SettleModel", "SettleKubeProxyRules",
                           .product(name: "Subprocess", package: "swift-subprocess")],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SettleKubeProxyRulesTests", dependencies: ["SettleKubeProxyRules", "SettleModel", "SettleTestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SettleLabTests", dependencies: ["SettleLab", "SettleModel"], swiftSettings: swiftSettings),
        .testTarget(name: "SettleKubeTests", dependencies: ["SettleKube", "SettleModel"], swiftSettings: swiftSettings),
        .testTarget(name: "SettleConvergenceTests", dependencies: ["SettleConvergence", "SettleSelection", "SettleKube", "SettleModel"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SettleSelectionTests", dependencies: ["SettleSelection", "SettleKube", "SettleModel"],
                    swiftSettings: swiftSettings),
        .testTarget(
            name: "SettleKubeClientTests",
            dependencies: ["SettleKubeClient", "SettleAPIServer", "SettleKube", "SettleModel",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "Subprocess", package: "swift-subprocess")],
            exclude: ["python"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SettleAgentTests",
            dependencies: ["SettleAgent", "SettleAcks", "SettleAggregator", "SettleAggregation", "SettleTestSupport", "SettleAPIServer", "SettleKubeClient", "SettleKube", "SettleSelection",
                           "SettleConvergence", "SettleModel", "SettleDataplane", "SettleDataplaneLinux", "SettleKubeProxyRules",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Subprocess", package: "swift-subprocess"),
                           .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SettleAppTests",
            dependencies: ["SettleApp", "SettleLab", "SettleAggregation", "SettleAcks", "SettleAPIServer", "SettleKube", "SettleModel",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SettleAggregationTests",
            dependencies: ["SettleAggregation", "SettleAcks", "SettleAPIServer", "SettleKube", "SettleModel", "SettleConvergence", "SettleSelection",
                           .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SettleAggregatorTests",
            dependencies: ["SettleAggregator", "SettleAggregation", "SettleAcks", "SettleAgent", "SettleTestSupport", "SettleAPIServer",
                           "SettleKubeClient", "SettleKube", "SettleSelection", "SettleConvergence", "SettleModel",
                           "SettleDataplane", "SettleDataplaneLinux", "SettleKubeProxyRules",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                           .product(name: "Subprocess", package: "swift-subprocess")],
            swiftSettings: swiftSettings),
    ]
)
