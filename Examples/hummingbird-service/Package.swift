// swift-tools-version:6.1

import PackageDescription

// A Hummingbird 2 service profiled with swift-pprof: its own package, so that the root package
// does not depend on Hummingbird. `./smoke.sh` builds it, loads it and reads its profile with
// the real `go tool pprof`.

// A path dependency's identity is its folder's name (swift-pprof in a usual clone, something
// else in a CI work tree), so it is read from the folder two levels up.
let pprofPackage =
    Context.packageDirectory.split(separator: "/").dropLast(2).last.map { String($0).lowercased() }
    ?? "swift-pprof"

let package = Package(
    name: "hummingbird-service",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "hummingbird-service",
            dependencies: [
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "PprofHTTP", package: pprofPackage),
                .product(name: "PprofTracing", package: pprofPackage),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ]
)
