// swift-tools-version:6.1

import PackageDescription

// A user's package: it depends on swift-pprof and uses only the public hooks, built in release,
// so the hooks are inlined into this module, as they are in users' programs.
// `./check.sh` runs it with PPROF_OUTPUT and checks the exact call counts per call path.

// A path dependency's identity is its folder's name (swift-pprof in a usual clone, something
// else in a CI work tree), so it is read from the folder two levels up.
let pprofPackage =
    Context.packageDirectory.split(separator: "/").dropLast(2).last.map { String($0).lowercased() }
    ?? "swift-pprof"

let package = Package(
    name: "outside-user",
    dependencies: [.package(path: "../..")],
    targets: [
        .executableTarget(
            name: "outside-user",
            dependencies: [.product(name: "Pprof", package: pprofPackage)]
        )
    ]
)
