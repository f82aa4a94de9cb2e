// swift-tools-version:6.1

import PackageDescription

let package = Package(
    name: "swift-pprof",
    products: [
        .library(name: "Pprof", targets: ["Pprof"]),
        .library(name: "PprofHTTP", targets: ["PprofHTTP"]),
        .library(name: "PprofTracing", targets: ["PprofTracing"]),
        // Opt-in: linking it interposes malloc and friends in the executable (see PprofMemory).
        .library(name: "PprofMemory", targets: ["PprofMemory"]),
        .executable(name: "pprof-demo", targets: ["pprof-demo"]),
        .executable(name: "pprof-report", targets: ["pprof-report"]),
    ],
    traits: [
        .trait(
            name: "PprofDisabled",
            description: "Compiles every Trace hook to nothing: no flag check, no event, no symbol of the recorder"
        ),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // 2.100 at least: its HTTP decoder takes limits on a request head (NIOHTTPDecoderLimitConfiguration),
        // and 2.42 to 2.99 bounded no more than each header's size (CVE-2026-28980).
        .package(url: "https://github.com/apple/swift-nio", from: "2.100.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        // `swift package generate-documentation --target Pprof`: a command plugin, so users' builds never build it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // The C shim: the thread-local pointer (initial-exec, defined once), the recording flag,
        // the clocks, and the ELF build id.
        .target(
            name: "CPprof",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // The malloc-family interposers: a target that defines malloc interposes in every
        // executable and test bundle that links it, so only PprofMemory depends on it.
        .target(
            name: "CPprofMemory",
            dependencies: ["CPprof"],
            cSettings: [.define("_GNU_SOURCE"), .define("PPROF_DISABLED", .when(traits: ["PprofDisabled"]))],
            linkerSettings: [.linkedLibrary("m"), .linkedLibrary("dl")]
        ),
        .target(
            name: "PprofMemory",
            dependencies: ["CPprofMemory", "Pprof"]
        ),
        // System zlib, for gzip.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "Pprof",
            dependencies: ["CPprof", "CZlib"],
            swiftSettings: [.define("PPROF_DISABLED", .when(traits: ["PprofDisabled"]))]
        ),
        // The HTTP endpoint: the only module that imports SwiftNIO.
        .target(
            name: "PprofHTTP",
            dependencies: [
                "Pprof",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The swift-distributed-tracing bridge: every span a profile frame.
        .target(
            name: "PprofTracing",
            dependencies: [
                "Pprof",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Links PprofMemory, so its malloc hooks count the demo's allocations: no test target may
        // depend on it (that would link the hooks into the test bundle); its tests run the
        // executable that `swift test` builds beside them, as they run pprof-memory-fixture.
        .executableTarget(
            name: "pprof-demo",
            dependencies: [
                "Pprof",
                "PprofHTTP",
                "PprofMemory",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The pprof decoder and its consumer-rule checker (`violations()`): what the tests, the
        // fuzzers and pprof-report read profiles with; no part of the library.
        .target(
            name: "PprofTestKit",
            dependencies: ["Pprof"]
        ),
        // What pprof-report prints, apart from parsing its arguments: testable without a process.
        .target(
            name: "PprofReportCore",
            dependencies: ["Pprof", "PprofTestKit"]
        ),
        // Reads a profile file or URL and prints the report, top, folded stacks or a diff.
        .executableTarget(
            name: "pprof-report",
            dependencies: [
                "Pprof",
                "PprofReportCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A program with known call counts, run as a child process by the tests of PPROF_OUTPUT
        // and of signals.
        .executableTarget(
            name: "pprof-fixture",
            dependencies: ["Pprof"],
            path: "Tests/PprofFixture"
        ),
        // Runs the allocation hooks through known allocations, threads, fork and dlopen, and
        // prints what a test checks. Not a dependency of any test target: that would link the
        // hooks into the test bundle (the tests find it beside themselves).
        .executableTarget(
            name: "pprof-memory-fixture",
            dependencies: ["PprofMemory", "Pprof", "PprofHTTP", "CPprof"],
            path: "Tests/PprofMemoryFixture"
        ),
        // Runs CPU sampling against what a program must keep (issue 15): blocking calls without
        // EINTR, fork, thread churn, threads ending mid-signal, a SIGPROF handler of its own.
        .executableTarget(
            name: "pprof-cpu-fixture",
            dependencies: ["Pprof", "CPprof", "CPprofCPUFixture", "PprofTestKit"],
            path: "Tests/PprofCPUFixture"
        ),
        // What Swift cannot call itself: syscall() is variadic, so a raw futex wait needs C.
        .target(
            name: "CPprofCPUFixture",
            path: "Tests/CPprofCPUFixture"
        ),
        // A second module that calls the hooks through their inlinable bodies, as a user's
        // module does: the thread-local pointer must be the same slot in both.
        .target(
            name: "PprofSecondModule",
            dependencies: ["Pprof"],
            path: "Tests/PprofSecondModule"
        ),
        // What the test targets share: the trait that keeps suites driving the recorder apart.
        .target(
            name: "PprofTestSupport",
            path: "Tests/PprofTestSupport"
        ),
        // The properties the fuzzers check, and the driver that hands them to libFuzzer (built
        // with -DFUZZING) or replays files through them: see Fuzz/README.md.
        .target(
            name: "PprofFuzzTargets",
            dependencies: [
                "Pprof",
                "PprofHTTP",
                "PprofReportCore",
                "PprofTestKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Fuzz/Targets"
        ),
        .executableTarget(name: "fuzz-query", dependencies: ["PprofFuzzTargets"], path: "Fuzz/fuzz-query"),
        .executableTarget(name: "fuzz-request", dependencies: ["PprofFuzzTargets"], path: "Fuzz/fuzz-request"),
        .executableTarget(name: "fuzz-decoder", dependencies: ["PprofFuzzTargets"], path: "Fuzz/fuzz-decoder"),
        .testTarget(
            name: "PprofTests",
            dependencies: [
                "Pprof", "PprofSecondModule", "PprofTestKit", "PprofTestSupport", "pprof-fixture", "pprof-cpu-fixture",
            ]
        ),
        .testTarget(
            name: "PprofReportTests",
            dependencies: ["Pprof", "PprofReportCore", "PprofTestKit", "PprofTestSupport", "pprof-report"]
        ),
        .testTarget(
            name: "PprofTracingTests",
            dependencies: [
                "Pprof",
                "PprofTracing",
                "PprofTestKit",
                "PprofTestSupport",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "PprofFuzzTests",
            dependencies: ["PprofFuzzTargets", "PprofTestSupport"]
        ),
        .testTarget(
            name: "PprofHTTPTests",
            dependencies: [
                "PprofHTTP",
                "Pprof",
                "PprofTestKit",
                "PprofTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
