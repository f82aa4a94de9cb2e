// swift-tools-version:6.1

import PackageDescription

// The benchmarks of swift-pprof, in their own package so that users of `Pprof` never build
// ordo-one/benchmark and its malloc interposer.
//
//   swift package benchmark --target HookCost     # ordo-one/benchmark: wall clock + mallocs
//   swift run -c release hook-ratios              # the ratios the issue asks for, in one run
//   swift run -c release MemoryHooks              # the allocation hooks against glibc, in one run

// A path dependency's identity is its folder's name (`swift-pprof` in a usual clone, something
// else in a CI work tree), so it is read from the parent folder rather than spelled out.
let pprofPackage =
    Context.packageDirectory.split(separator: "/").dropLast().last.map { String($0).lowercased() }
    ?? "swift-pprof"

let package = Package(
    name: "swift-pprof-benchmarks",
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
    ],
    targets: [
        // The baseline: a raw rdtsc (cntvct_el0 on arm64) through a static inline C function,
        // the same instruction the recorder's clock reads; and an opaque sink for hook-ratios.
        .target(name: "CBaseline"),
        // Medians and fixed-width numbers for the executables that print figures.
        .target(name: "Figures"),
        .executableTarget(
            name: "HookCost",
            dependencies: [
                "CBaseline",
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HookCost",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // The aggregator, windows and encoders under ordo-one/benchmark: time, throughput and
        // mallocs, with percentiles.
        .executableTarget(
            name: "Aggregation",
            dependencies: [
                "CBaseline",
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Aggregation",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        .executableTarget(
            name: "Outputs",
            dependencies: [
                "CBaseline",
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/Outputs",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        // Async scopes, labels and tracing spans against rdtsc and a no-op withSpan.
        .executableTarget(
            name: "async-ratios",
            dependencies: [
                "CBaseline",
                "Figures",
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "PprofTracing", package: pprofPackage),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // The same figures as plain numbers and ratios, in one run each.
        .executableTarget(
            name: "output-figures",
            dependencies: [
                "CBaseline",
                "Figures",
                .product(name: "Pprof", package: pprofPackage),
            ]
        ),
        .executableTarget(
            name: "drop-figures",
            dependencies: [
                "CBaseline",
                "Figures",
                .product(name: "Pprof", package: pprofPackage),
            ]
        ),
        .executableTarget(
            name: "aggregator-figures",
            dependencies: [
                "CBaseline",
                "Figures",
                .product(name: "Pprof", package: pprofPackage),
            ]
        ),
        // The allocation loops of MemoryHooks, in C.
        .target(
            name: "CMemoryLoops",
            dependencies: [.product(name: "PprofMemory", package: pprofPackage)]
        ),
        // What the allocation hooks cost against glibc, in one run (links PprofMemory, so it
        // is not an ordo-one/benchmark target: that one's malloc interposer would collide).
        .executableTarget(
            name: "MemoryHooks",
            dependencies: [
                "CBaseline",
                "CMemoryLoops",
                "Figures",
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "PprofMemory", package: pprofPackage),
            ]
        ),
        // The same allocation loops without Pprof, with Pprof alone, and with PprofMemory:
        // memory-ab.sh.
        .target(name: "ClassLoopCore"),
        .executableTarget(name: "alloc-loops", dependencies: ["ClassLoopCore"]),
        .executableTarget(
            name: "alloc-loops-pprof",
            dependencies: ["ClassLoopCore", .product(name: "Pprof", package: pprofPackage)]
        ),
        .executableTarget(
            name: "alloc-loops-hooked",
            dependencies: [
                "ClassLoopCore",
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "PprofMemory", package: pprofPackage),
            ]
        ),
        // A CPU-bound loop of recorded scopes under a window, its rate with CPU sampling at
        // PPROF_CPU_HZ against without, and the cost of a sample: cpu-ab.sh.
        .executableTarget(
            name: "cpu-loop",
            dependencies: [
                "CBaseline",
                "Figures",
                .product(name: "Pprof", package: pprofPackage),
            ]
        ),
        .executableTarget(
            name: "hook-ratios",
            dependencies: [
                "CBaseline",
                "Figures",
                .product(name: "Pprof", package: pprofPackage),
            ]
        ),
    ]
)
