// swift-tools-version:6.1

import PackageDescription

let package = Package(
    name: "swift-pprof",
    products: [
        .library(name: "Pprof", targets: ["Pprof"]),
        .executable(name: "pprof-demo", targets: ["pprof-demo"]),
    ],
    traits: [
        .trait(
            name: "PprofDisabled",
            description: "Compiles every Trace hook to nothing: no flag check, no event, no symbol of the recorder"
        ),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // The C shim: the thread-local pointer (initial-exec, defined once), the recording flag,
        // the clocks, and the ELF build id.
        .target(
            name: "CPprof",
            cSettings: [.define("_GNU_SOURCE")]
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
        .executableTarget(
            name: "pprof-demo",
            dependencies: ["Pprof", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // A program with known call counts, run as a child process by the tests of PPROF_OUTPUT
        // and of signals.
        .executableTarget(
            name: "pprof-fixture",
            dependencies: ["Pprof"],
            path: "Tests/PprofFixture"
        ),
        // A second module that calls the hooks through their inlinable bodies, as a user's
        // module does: the thread-local pointer must be the same slot in both.
        .target(
            name: "PprofSecondModule",
            dependencies: ["Pprof"],
            path: "Tests/PprofSecondModule"
        ),
        .testTarget(
            name: "PprofTests",
            dependencies: ["Pprof", "PprofSecondModule", "pprof-fixture"]
        ),
    ]
)
