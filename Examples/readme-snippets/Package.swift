// swift-tools-version:6.1

import PackageDescription

// The README's snippets for async code, labels and spans, verbatim, each a program of its own.
// `./check.sh` runs them and reads what they write with the real `go tool pprof`.

// A path dependency's identity is its folder's name (swift-pprof in a usual clone, something
// else in a CI work tree), so it is read from the folder two levels up.
let pprofPackage =
    Context.packageDirectory.split(separator: "/").dropLast(2).last.map { String($0).lowercased() }
    ?? "swift-pprof"

let package = Package(
    name: "readme-snippets",
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
    ],
    targets: [
        .executableTarget(name: "async-snippet", dependencies: [.product(name: "Pprof", package: pprofPackage)]),
        .executableTarget(name: "labels-snippet", dependencies: [.product(name: "Pprof", package: pprofPackage)]),
        .executableTarget(
            name: "spans-snippet",
            dependencies: [
                .product(name: "Pprof", package: pprofPackage),
                .product(name: "PprofTracing", package: pprofPackage),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
    ]
)
