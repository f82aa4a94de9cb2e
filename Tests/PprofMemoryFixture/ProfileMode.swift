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

import CPprof
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

/// The table's state, for a person debugging the fixture: `table` mode.
func tableMode() {
    let kept = knownAllocations()
    _ = MemoryProfile.now()
    var counts = [0, 0, 0, 0]
    for index in 0..<CPprof_sampleHighWater() {
        let flags = CPprof_sampleFlags(CPprof_sampleSlot(index))
        for (bit, mask) in [CPPROF_SAMPLE_USED, CPPROF_SAMPLE_LIVE, CPPROF_SAMPLE_QUEUED, CPPROF_SAMPLE_SEEN]
            .enumerated()
        where flags & UInt32(mask) != 0 {
            counts[bit] += 1
        }
    }
    say(
        "table high \(CPprof_sampleHighWater()) used \(counts[0]) live \(counts[1]) queued \(counts[2]) seen \(counts[3]) lost \(CPprof_getSamplesLost()) taken \(CPprof_getSamplesTaken())"
    )
    withExtendedLifetime(kept.instances) {}
}
