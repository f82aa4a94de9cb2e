// swift-tools-version:6.1

import PackageDescription

// The Swift side of Benchmarks/peers/run.sh: a recursive fib with every call instrumented, under
// swift-pprof and under swift-distributed-tracing's `withSpan` (no-op tracer and a minimal
// in-memory tracer), against the same fib uninstrumented and a raw rdtsc pair.
//
//   swift run -c release peers-swift --help

// A path dependency's identity is its folder's name (`swift-pprof` in a usual clone, something
// else in a CI work tree), so it is read from the root folder rather than spelled out.
let pprofPackage =
    Context.packageDirectory.split(separator: "/").dropLast(3).last.map { String($0).lowercased() }
    ?? "swift-pprof"

let package = Package(
    name: "swift-pprof-peers",
    dependencies: [
        .package(path: "../../.."),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
    ],
    targets: [
        // The baseline: a raw rdtsc (cntvct_el0 on arm64) through a static inline C function, and
        // an opaque sink; the same as Benchmarks/Sources/CBaseline.
        .target(name: "CRdtsc"),
        .executableTarget(
            name: "peers-swift",
            dependencies: [
                "CRdtsc",
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ]
        ),
    ]
)
