// `profile PATH` and `serve`: known allocations in named scopes, taken as a memory profile by
// the recorder, for the tests that check the profile itself (MemoryProfileTests).
//
//   memory.instances   10 000 instances of a 32-byte class appended to a reserved array, kept
//   memory.live        1 000 blocks of 1 000 bytes from allocateLiveBlocks(_:size:), kept
//   memory.freed       1 000 blocks of 1 000 bytes, all freed before the profile
//   memory.labelled    100 blocks of 48 bytes, with the label route=/users/:id
//
// `profile` writes the profile to PATH and prints the totals of the scopes; `serve` serves the
// same over HTTP on a free port (printing `port N`) until its standard input closes.

import Pprof
import PprofHTTP

#if canImport(Glibc)
import Glibc
#endif

/// 16 bytes of object header and two words: 32 bytes a block.
final class Instance {
    var a = 0
    var b = 0
}

@inline(never)
func makeInstances(_ count: Int, into array: inout [Instance]) {
    for _ in 0..<count { array.append(Instance()) }
}

@inline(never)
func allocateLiveBlocks(_ blocks: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ count: Int, size: Int) {
    for i in 0..<count { blocks[i] = malloc(size) }
}

/// Runs the scopes; returns what must stay alive until the profile is taken.
func knownAllocations() -> (instances: [Instance], live: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
    Trace.scope("memory.warm") {}
    var instances: [Instance] = []
    instances.reserveCapacity(10_000)
    Trace.scope("memory.instances") { makeInstances(10_000, into: &instances) }
    let live = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1000)
    Trace.scope("memory.live") { allocateLiveBlocks(live, 1000, size: 1000) }
    let freed = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1000)
    Trace.scope("memory.freed") {
        allocateLiveBlocks(freed, 1000, size: 1000)
        for i in 0..<1000 { free(freed[i]) }
    }
    freed.deallocate()
    let labelled = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 100)
    Trace.withLabels(["route": "/users/:id"]) {
        Trace.scope("memory.labelled") { allocateLiveBlocks(labelled, 100, size: 48) }
    }
    return (instances, live)
}

func profileMode(_ path: String) {
    let kept = knownAllocations()
    let profile = MemoryProfile.now()
    do {
        try profile.write(to: path)
    } catch {
        check(false, "could not write \(path): \(error)")
    }
    say("ok profile hooks \(profile.hooks.rawValue) allocated \(profile.allocatedObjects) in use \(profile.inUseBytes)")
    for top in profile.topAllocating(6) { say("top \(top.path) \(top.objects) \(top.bytes)") }
    withExtendedLifetime(kept.instances) {}
    kept.live.deallocate()
}

func serveMode() {
    let kept = knownAllocations()
    let server: PprofServer
    do {
        server = try PprofServer.start(configuration: PprofServer.Configuration(port: 0))
    } catch {
        say("FAIL could not start the server: \(error)")
        exit(1)
    }
    say("port \(server.boundPort ?? -1)")
    // Until the test closes our standard input.
    var byte: UInt8 = 0
    while read(0, &byte, 1) > 0 {}
    withExtendedLifetime((kept.instances, server)) {}
}

/// Resident memory now, in bytes (/proc/self/statm's second field, in pages).
func residentBytes() -> Int {
    let fd = open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 256)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return 0 }
    let fields = buffer[..<n].split(separator: UInt8(ascii: " "))
    guard fields.count >= 2, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// `scoped-churn N`: N short-lived threads, 8 at a time, each allocating and freeing 50 blocks
/// (32 to 816 bytes) inside the scope `churn.thread` and exiting: exact counts for the path
/// across every thread, and resident memory that does not grow with the number of threads.
func scopedChurnMode(_ count: Int) {
    Trace.scope("memory.warm") {}
    let baseline = MemoryProfile.baseline()
    var resident = 0
    var done = 0
    while done < count {
        let batch = min(8, count - done)
        var threads: [pthread_t] = []
        for _ in 0..<batch {
            threads.append(
                spawn {
                    let blocks = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 50)
                    Trace.scope("churn.thread") {
                        for i in 0..<50 { blocks[i] = malloc(32 + i * 16) }
                        for i in 0..<50 { free(blocks[i]) }
                    }
                    blocks.deallocate()
                }
            )
        }
        for thread in threads { pthread_join(thread, nil) }
        done += batch
        if done == min(1000, count) { resident = residentBytes() }
    }
    let profile = MemoryProfile.since(baseline)
    let path = profile.paths.nodes.indices.filter { index in
        let node = profile.paths.nodes[index]
        return node.parent < 0 && profile.paths.functions[Int(node.function)].name == "churn.thread"
    }
    let objects = path.reduce(0) { $0 + profile.paths.nodes[$1].values.allocObjects }
    let bytes = path.reduce(0) { $0 + profile.paths.nodes[$1].values.allocBytes }
    if active {
        check(objects == UInt64(count * 50), "churn.thread counted \(objects) blocks, not \(count * 50)")
        check(bytes == UInt64(count * 21_200), "churn.thread counted \(bytes) bytes, not \(count * 21_200)")
    }
    let growth = residentBytes() - resident
    // Under a sanitizer (the hooks standing aside) its allocator keeps freed memory in
    // quarantine, and resident memory says nothing about ours.
    if active { check(growth < 48 << 20, "resident memory grew by \(growth >> 20) MiB from thread 1000 to \(count)") }
    say(
        "ok scoped churn \(count) threads objects \(objects) bytes \(bytes) resident growth \(max(0, growth) >> 20) MiB"
    )
}
