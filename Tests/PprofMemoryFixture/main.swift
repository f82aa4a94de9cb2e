// Runs the allocation hooks (PprofMemory) through known allocations and prints what a test
// checks: `ok ...` lines, and `FAIL ...` lines with a non-zero exit status on any failure.
//
//   pprof-memory-fixture status      the hooks' status and rate
//   pprof-memory-fixture counts      known allocations of each kind, on a thread without recorder
//                                    state (the unscoped counters) and on one with (its header)
//                                    (run with PPROF_TRACK_THREADS=1)
//   pprof-memory-fixture model N     N random operations checked against a model
//   pprof-memory-fixture threads     64 threads allocating, then freeing each other's blocks
//   pprof-memory-fixture churn N     N short-lived threads that allocate
//   pprof-memory-fixture fork        forks while another thread allocates; the children allocate
//   pprof-memory-fixture dlopen      a dlopen'ed libz allocates through the hooks
//   pprof-memory-fixture frames      a block allocated in a named function has it among its frames
//   pprof-memory-fixture profile P   known allocations in named scopes, their memory profile
//                                    written to P (see ProfileMode.swift)
//   pprof-memory-fixture serve       the same served over HTTP until standard input closes
//   pprof-memory-fixture scoped-churn N   N threads allocating inside a scope, then exiting:
//                                    exact counts for the path, resident memory bounded
//
// When the hooks are not active (a sanitizer build, PPROF_MEMORY=0), each mode prints
// `standing aside: ...` or `switched off`, runs its workload without checking counts, and exits 0.

import CPprof
import CPprofMemory
import Pprof
import PprofMemory
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

let failures = Atomic<Int>(0)

func say(_ text: String) {
    print(text)
    fflush(nil)
}

func check(_ condition: Bool, _ text: @autoclosure () -> String) {
    if !condition {
        failures.add(1, ordering: .relaxed)
        say("FAIL \(text())")
    }
}

let active = MemoryHooks.status == .active
let sampleEvery = MemoryHooks.rate == 1

/// The calling thread's header counters (allocations, bytes), or nil without recorder state.
@inline(__always)
func headerCounts() -> (UInt64, UInt64)? {
    guard let state = CPprof_getThreadState() else { return nil }
    let offset = Int(CPPROF_HEADER_ALLOC_OFFSET)
    return (
        state.load(fromByteOffset: offset, as: UInt64.self), state.load(fromByteOffset: offset + 8, as: UInt64.self)
    )
}

func unscopedCounts() -> (UInt64, UInt64) {
    (CPprof_getUnscopedAllocObjects(), CPprof_getUnscopedAllocBytes())
}

/// Gives the calling thread recorder state (needs PPROF_TRACK_THREADS=1).
func adoptRecorderState() {
    Trace.scope("memory.fixture") {}
}

/// Live sampled slots right now.
func liveSlots() -> Int {
    var live = 0
    let high = CPprof_sampleHighWater()
    var index: UInt32 = 0
    while index < high {
        let flags = CPprof_sampleFlags(CPprof_sampleSlot(index))
        if flags & UInt32(CPPROF_SAMPLE_LIVE) != 0 { live += 1 }
        index += 1
    }
    return live
}

/// What the aggregator does, for modes that run without one: every published slot is taken
/// off the stack, so that `free` gives a freed one back (without an aggregator the table would
/// fill at rate 1), and charged to node 0.
func recycleFreedSlots() {
    var next = CPprof_samplesPublishedTake()
    while next != 0 {
        let index = next - 1
        let slot = CPprof_sampleSlot(index)!
        next = slot.pointee.nextPublished
        let flags = CPprof_sampleTake(index)
        if flags & UInt32(CPPROF_SAMPLE_LIVE) != 0 {
            _ = CPprof_sampleSeen(index, flags >> UInt32(CPPROF_SAMPLE_GENERATION_SHIFT), 0)
        }
    }
}

func isLive(slot: UInt32) -> Bool {
    CPprof_sampleFlags(CPprof_sampleSlot(slot)) & UInt32(CPPROF_SAMPLE_LIVE) != 0
}

/// Starts a thread running `body` and returns it.
func spawn(_ body: @escaping () -> Void) -> pthread_t {
    final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread,
        nil,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.body()
            return nil
        },
        box
    )
    precondition(result == 0, "pthread_create: \(result)")
    return thread
}

// MARK: counts

/// The known allocations: 31 of them, `knownBytes` bytes. Nothing else allocates in between
/// (the pointers live in a buffer allocated before).
let knownObjects: UInt64 = 31
let knownBytes: UInt64 = 10 * 100 + 5 * 100 + 5 * 200 + 50 + 3 * 100 + 2 * 256 + 2 * 48 + 10 + 100 + 100

@inline(never)
func knownAllocations(_ slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>) {
    var n = 0
    for _ in 0..<10 {
        slots[n] = malloc(100)
        n += 1
    }
    for _ in 0..<5 {
        slots[n] = calloc(4, 25)
        n += 1
    }
    for i in 0..<5 { slots[i] = realloc(slots[i], 200) }  // 5 allocations of 200
    slots[n] = realloc(nil, 50)
    n += 1
    for _ in 0..<3 {
        var p: UnsafeMutableRawPointer?
        _ = posix_memalign(&p, 64, 100)
        slots[n] = p
        n += 1
    }
    for _ in 0..<2 {
        slots[n] = aligned_alloc(128, 256)
        n += 1
    }
    for _ in 0..<2 {
        slots[n] = memalign(32, 48)
        n += 1
    }
    var page: UnsafeMutableRawPointer?
    _ = posix_memalign(&page, 4096, 10)
    slots[n] = page
    n += 1
    slots[n] = valloc(100)
    n += 1
    slots[n] = pvalloc(100)
    n += 1
    // realloc(p, 0) frees: counted as nothing.
    slots[5] = realloc(slots[5], 0)
    for i in 0..<n { free(slots[i]) }
    free(nil)
}

func countsMode() {
    let slots = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 64)
    slots.initialize(repeating: nil, count: 64)
    // Without recorder state: the process-wide counters. Nothing else runs meanwhile (the main
    // thread waits in pthread_join, and no recorder has started).
    var unscoped: (UInt64, UInt64) = (0, 0)
    let stateless = spawn {
        // The thread's first allocation takes the slow path once (its first interval): do it first.
        free(malloc(1))
        let before = unscopedCounts()
        knownAllocations(slots)
        let after = unscopedCounts()
        unscoped = (after.0 &- before.0, after.1 &- before.1)
    }
    pthread_join(stateless, nil)
    if active {
        check(unscoped == (knownObjects, knownBytes), "unscoped \(unscoped), expected \((knownObjects, knownBytes))")
        say("ok counts unscoped objects \(unscoped.0) bytes \(unscoped.1)")
    }

    adoptRecorderState()
    guard let before = headerCounts() else {
        check(false, "no recorder state after Trace.scope (PPROF_TRACK_THREADS=1 not set?)")
        return
    }
    knownAllocations(slots)
    let after = headerCounts()!
    let delta = (after.0 &- before.0, after.1 &- before.1)
    if active {
        check(delta == (knownObjects, knownBytes), "header \(delta), expected \((knownObjects, knownBytes))")
        say("ok counts header objects \(delta.0) bytes \(delta.1)")
    }
    slots.deallocate()
}

// MARK: model

/// Deterministic random numbers that do not allocate.
struct XorShift {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

struct Block {
    var pointer: UnsafeMutableRawPointer
    var size: Int
    var alignment: Int
    var fill: UInt8
}

func fill(_ block: Block) {
    block.pointer.initializeMemory(as: UInt8.self, repeating: block.fill, count: block.size)
}

func intact(_ block: Block, prefix: Int? = nil) -> Bool {
    let bytes = block.pointer.assumingMemoryBound(to: UInt8.self)
    for i in 0..<(prefix ?? block.size) where bytes[i] != block.fill { return false }
    return true
}

func modelMode(_ operations: Int) {
    let capacity = 512
    let blocks = UnsafeMutablePointer<Block>.allocate(capacity: capacity)
    var live = 0
    var random = XorShift(state: 0x2545_F491_4F6C_DD1D)
    var sampledFrees = 0
    var sampledAllocations = 0

    func verify(_ block: Block, _ what: String) {
        check(
            Int(bitPattern: block.pointer) % block.alignment == 0,
            "\(what): \(block.pointer) not \(block.alignment)-aligned"
        )
        check(malloc_usable_size(block.pointer) >= block.size, "\(what): usable size below \(block.size)")
        if CPprofMemory_sampleSlotOf(block.pointer) != UInt32.max { sampledAllocations += 1 }
    }

    func release(_ index: Int) {
        let block = blocks[index]
        check(intact(block), "block \(index) of \(block.size) bytes was overwritten")
        let slot = CPprofMemory_sampleSlotOf(block.pointer)
        free(block.pointer)
        if slot != UInt32.max {
            sampledFrees += 1
            check(!isLive(slot: slot), "slot \(slot) still LIVE after free")
        }
        live -= 1
        blocks[index] = blocks[live]
    }

    let sizes = [0, 1, 8, 24, 64, 100, 256, 1000, 4000, 70_000]
    for operation in 0..<operations {
        if operation % 32 == 0 { recycleFreedSlots() }
        let choice = random.below(10)
        if live == capacity || (live > 0 && choice < 4) {
            release(random.below(live))
            continue
        }
        let size = sizes[random.below(sizes.count)]
        let fillByte = UInt8(truncatingIfNeeded: random.next() | 1)
        var block: Block
        switch choice {
        case 4:
            block = Block(pointer: malloc(size)!, size: size, alignment: 16, fill: fillByte)
        case 5:
            let p = calloc(1, size)!
            let zero = (0..<size).allSatisfy { p.load(fromByteOffset: $0, as: UInt8.self) == 0 }
            check(zero, "calloc(\(size)) not zeroed")
            block = Block(pointer: p, size: size, alignment: 16, fill: fillByte)
        case 6:
            let alignment = [32, 64, 256, 4096][random.below(4)]
            block = Block(pointer: memalign(alignment, size)!, size: size, alignment: alignment, fill: fillByte)
        case 7:
            let alignment = [16, 128, 1024, 8192][random.below(4)]
            // C11 wants a size that is a multiple of the alignment (ASan holds to it; glibc does not).
            let rounded = (size + alignment - 1) / alignment * alignment
            block = Block(pointer: aligned_alloc(alignment, rounded)!, size: size, alignment: alignment, fill: fillByte)
        case 8:
            let alignment = [8, 32, 2048, 4096][random.below(4)]
            var p: UnsafeMutableRawPointer?
            check(posix_memalign(&p, alignment, size) == 0, "posix_memalign(\(alignment), \(size)) failed")
            block = Block(pointer: p!, size: size, alignment: alignment, fill: fillByte)
        default:
            // realloc an existing block (or NULL) to a new size: its prefix survives.
            if live > 0 {
                let index = random.below(live)
                var old = blocks[index]
                let slot = CPprofMemory_sampleSlotOf(old.pointer)
                check(intact(old), "block before realloc overwritten")
                let newSize = max(1, size)
                let p = realloc(old.pointer, newSize)!
                if slot != UInt32.max && p != old.pointer {
                    check(!isLive(slot: slot), "slot \(slot) of a moved realloc still LIVE")
                }
                old.pointer = p
                check(intact(old, prefix: min(old.size, newSize)), "realloc lost the block's bytes")
                old.size = newSize
                old.alignment = 16
                old.fill = fillByte
                verify(old, "realloc")
                fill(old)
                blocks[index] = old
                continue
            }
            block = Block(pointer: realloc(nil, size)!, size: size, alignment: 16, fill: fillByte)
        }
        verify(block, "new block")
        fill(block)
        blocks[live] = block
        live += 1
    }
    if active && sampleEvery {
        // At rate 1 every block but the page-aligned ones is sampled: each live block of the
        // model has a LIVE slot of its own (and each freed one lost its LIVE bit, above).
        var eligible = 0
        var modelSlots = Set<UInt32>()
        for i in 0..<live where blocks[i].alignment < 4096 {
            eligible += 1
            let slot = CPprofMemory_sampleSlotOf(blocks[i].pointer)
            check(slot != UInt32.max && isLive(slot: slot), "live block \(i) has no LIVE slot")
            if slot != UInt32.max { modelSlots.insert(slot) }
        }
        let slots = liveSlots()
        check(modelSlots.count == eligible, "\(eligible) live blocks share \(modelSlots.count) slots")
        check(slots >= eligible, "\(slots) LIVE slots for \(eligible) live blocks")
        check(CPprof_getSamplesLost() == 0, "\(CPprof_getSamplesLost()) samples lost")
        say("ok model live sampled slots \(modelSlots.count) = live blocks \(eligible)")
    }
    while live > 0 { release(live - 1) }
    if active {
        check(sampleEvery ? sampledAllocations > 0 : true, "no block sampled at rate 1")
        say("ok model \(operations) operations, \(sampledAllocations) sampled, \(sampledFrees) sampled frees")
    } else {
        say("ok model \(operations) operations")
    }
    blocks.deallocate()
}

// MARK: threads

func threadsMode() {
    let threadCount = 64
    let perThread = 200
    let blocks = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: threadCount * perThread)
    let counted = UnsafeMutablePointer<(UInt64, UInt64)>.allocate(capacity: threadCount)
    counted.initialize(repeating: (0, 0), count: threadCount)
    let bad = Atomic<Int>(0)
    var barrier = pthread_barrier_t()
    pthread_barrier_init(&barrier, nil, UInt32(threadCount))
    let barrierPointer = withUnsafeMutablePointer(to: &barrier) { $0 }
    var threads: [pthread_t] = []
    for t in 0..<threadCount {
        threads.append(
            spawn {
                adoptRecorderState()
                free(malloc(1))  // the first interval
                let before = headerCounts() ?? (0, 0)
                for i in 0..<perThread {
                    let size = 16 + (i * 37 + t) % 2000
                    let p = malloc(size)!
                    p.storeBytes(of: UInt32(t * perThread + i), as: UInt32.self)
                    blocks[t * perThread + i] = p
                }
                let after = headerCounts() ?? (0, 0)
                counted[t] = (after.0 &- before.0, after.1 &- before.1)
                pthread_barrier_wait(barrierPointer)
                let other = (t + 1) % threadCount
                for i in 0..<perThread {
                    let p = blocks[other * perThread + i]!
                    if p.load(as: UInt32.self) != UInt32(other * perThread + i) { bad.add(1, ordering: .relaxed) }
                    free(p)
                }
            }
        )
    }
    for thread in threads { pthread_join(thread, nil) }
    pthread_barrier_destroy(barrierPointer)
    defer {
        blocks.deallocate()
        counted.deallocate()
    }
    var objects: UInt64 = 0
    var bytes: UInt64 = 0
    var expectedBytes: UInt64 = 0
    for t in 0..<threadCount {
        objects += counted[t].0
        bytes += counted[t].1
        for i in 0..<perThread { expectedBytes += UInt64(16 + (i * 37 + t) % 2000) }
    }
    check(bad.load(ordering: .relaxed) == 0, "\(bad.load(ordering: .relaxed)) blocks overwritten across threads")
    if active {
        check(objects == UInt64(threadCount * perThread), "threads counted \(objects) allocations")
        check(bytes == expectedBytes, "threads counted \(bytes) bytes, expected \(expectedBytes)")
        say("ok threads \(threadCount) objects \(objects) bytes \(bytes)")
    } else {
        say("ok threads \(threadCount)")
    }
}

// MARK: churn

func churnMode(_ count: Int) {
    let baseline = liveSlots()
    var remaining = count
    while remaining > 0 {
        let batch = min(8, remaining)
        var threads: [pthread_t] = []
        for _ in 0..<batch {
            threads.append(
                spawn {
                    var pointers: [UnsafeMutableRawPointer] = []
                    for i in 0..<50 { pointers.append(malloc(32 + i * 16)!) }
                    for p in pointers { free(p) }
                }
            )
        }
        for thread in threads { pthread_join(thread, nil) }
        remaining -= batch
    }
    if active && sampleEvery {
        // A thread's arrays and runtime blocks may outlive it a little (thread teardown): allow
        // a handful, never one per allocation.
        let left = liveSlots() - baseline
        check(left < 50, "\(left) sampled blocks still live after \(count) threads")
    }
    // Then one thread at a time, the main thread waiting in pthread_join: each counts exactly
    // what it allocated, in a counter of its own that the thread before it gave back at exit.
    let blocks = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 50)
    let wrong = UnsafeMutablePointer<Int>.allocate(capacity: 1)
    wrong.initialize(to: 0)
    let expectedBytes = UInt64((0..<50).reduce(0) { $0 + 32 + $1 * 16 })
    let highWaterBefore = CPprof_unscopedCountersHighWater()
    for _ in 0..<count {
        let thread = spawn {
            free(malloc(1))  // the thread's first allocation claims its counter: not measured
            let before = unscopedCounts()
            for i in 0..<50 { blocks[i] = malloc(32 + i * 16) }
            let after = unscopedCounts()
            for i in 0..<50 { free(blocks[i]) }
            if active && (after.0 &- before.0, after.1 &- before.1) != (50, expectedBytes) { wrong.pointee += 1 }
        }
        pthread_join(thread, nil)
    }
    check(wrong.pointee == 0, "\(wrong.pointee) of \(count) threads without recorder state miscounted")
    // Counters are given back at exit and reused: the churn claims a handful, not one a thread.
    let grown = CPprof_unscopedCountersHighWater() - highWaterBefore
    if active { check(grown <= 16, "\(grown) more unscoped counters after \(count) sequential threads") }
    blocks.deallocate()
    wrong.deallocate()
    say("ok churn \(count) threads")
}

// MARK: fork

func forkMode() {
    let stop = Atomic<Bool>(false)
    let busy = spawn {
        while !stop.load(ordering: .relaxed) {
            let p = malloc(48)
            free(p)
        }
    }
    var children = 0
    for _ in 0..<20 {
        let pid = fork()
        if pid == 0 {
            alarm(10)  // a deadlock in the child ends it with SIGALRM
            for i in 0..<1000 {
                let p = malloc(16 + i)
                free(p)
            }
            _exit(0)
        }
        check(pid > 0, "fork failed")
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        check(status == 0, "child \(pid) ended with status \(status)")
        if status == 0 { children += 1 }
    }
    stop.store(true, ordering: .relaxed)
    pthread_join(busy, nil)
    say("ok fork \(children) children allocated and exited 0")
}

// MARK: dlopen

func dlopenMode() {
    guard let zlib = dlopen("libz.so.1", RTLD_NOW) else {
        check(false, "dlopen libz.so.1 failed")
        return
    }
    typealias Compress =
        @convention(c) (
            UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?, UnsafePointer<UInt8>?, UInt
        ) -> Int32
    let compress = unsafeBitCast(dlsym(zlib, "compress"), to: Compress.self)
    let input = [UInt8](repeating: 65, count: 10_000)
    var output = [UInt8](repeating: 0, count: 20_000)
    var outputLength = UInt(output.count)
    adoptRecorderState()
    let before = headerCounts() ?? (0, 0)
    let result = output.withUnsafeMutableBufferPointer { out in
        input.withUnsafeBufferPointer { compress(out.baseAddress, &outputLength, $0.baseAddress, UInt($0.count)) }
    }
    let after = headerCounts() ?? (0, 0)
    check(result == 0, "compress returned \(result)")
    let objects = after.0 &- before.0
    if active {
        // deflateInit allocates its state and windows through the hooks.
        check(objects >= 1, "libz's allocations were not counted")
        say("ok dlopen libz compress counted \(objects) allocations, \(after.1 &- before.1) bytes")
    } else {
        say("ok dlopen libz compress")
    }
    dlclose(zlib)
}

// MARK: frames

let frameSink = Atomic<Int>(0)

@inline(never)
func allocateInNamedFunction() -> UnsafeMutableRawPointer {
    malloc(100)!
}

@inline(never)
func callerOfNamedFunction() -> UnsafeMutableRawPointer {
    let p = allocateInNamedFunction()
    frameSink.store(Int(bitPattern: p), ordering: .relaxed)  // no tail call: this frame stays
    return p
}

/// The executable's own functions (its .symtab: Swift functions are not dynamic symbols, so
/// dladdr does not name them), as (name, start, end) in the file's addresses.
let executableSymbols: [(String, UInt, UInt)] = {
    guard let file = fopen("/proc/self/exe", "rb") else { return [] }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    func word<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
        bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
    let sections = Int(word(0x28, UInt64.self))
    let entrySize = Int(word(0x3A, UInt16.self))
    let count = Int(word(0x3C, UInt16.self))
    var symbols: [(String, UInt, UInt)] = []
    for i in 0..<count {
        let header = sections + i * entrySize
        guard word(header + 4, UInt32.self) == 2 else { continue }  // SHT_SYMTAB
        let offset = Int(word(header + 0x18, UInt64.self))
        let size = Int(word(header + 0x20, UInt64.self))
        let strings = Int(word(sections + Int(word(header + 0x28, UInt32.self)) * entrySize + 0x18, UInt64.self))
        for symbol in stride(from: offset, to: offset + size, by: 24) {
            guard word(symbol + 4, UInt8.self) & 0xF == 2 else { continue }  // STT_FUNC
            let start = UInt(word(symbol + 8, UInt64.self))
            let length = UInt(word(symbol + 16, UInt64.self))
            var end = strings + Int(word(symbol, UInt32.self))
            let begin = end
            while bytes[end] != 0 { end += 1 }
            symbols.append((String(decoding: bytes[begin..<end], as: UTF8.self), start, start + length))
        }
    }
    return symbols
}()

/// The name of the function holding `address`: the executable's own from its .symtab, else
/// the dynamic symbol dladdr finds, else "?".
func symbol(_ address: UnsafeMutableRawPointer?) -> String {
    var base: UInt = 0
    let name = CPprofMemory_symbolName(address, &base)
    let fileAddress = UInt(bitPattern: address) &- base
    // A C function of this executable, to find its load address by.
    let anchor: @convention(c) () -> UInt8 = CPprofMemory_compiledIn
    var executableBase: UInt = 0
    _ = CPprofMemory_symbolName(unsafeBitCast(anchor, to: UnsafeRawPointer.self), &executableBase)
    if base == executableBase, let own = executableSymbols.first(where: { $0.1 <= fileAddress && fileAddress < $0.2 }) {
        return own.0
    }
    return name.map { String(cString: $0) } ?? "?"
}

func framesMode() {
    guard active else {
        free(callerOfNamedFunction())
        say("ok frames (hooks inactive)")
        return
    }
    check(sampleEvery, "frames needs PPROF_MEMORY_RATE=1")
    let p = callerOfNamedFunction()
    let slot = CPprofMemory_sampleSlotOf(p)
    check(slot != UInt32.max, "the block is not sampled")
    if slot != UInt32.max {
        let sample = CPprof_sampleSlot(slot)!
        let count = Int(sample.pointee.frameCount)
        let names = withUnsafeBytes(of: sample.pointee.frames) { raw in
            (0..<count).map { symbol(raw.load(fromByteOffset: $0 * 8, as: UnsafeMutableRawPointer?.self)) }
        }
        check(names.first?.contains("allocateInNamedFunction") == true, "frames[0] is \(names.first ?? "none")")
        check(names.contains { $0.contains("callerOfNamedFunction") }, "caller missing from \(names)")
        check(count >= 3, "only \(count) frames")
        say("ok frames \(count): \(names.prefix(4).joined(separator: " "))")
        let raw = withUnsafeBytes(of: sample.pointee.frames) { raw in
            (0..<count).map { String(UInt(bitPattern: raw.load(fromByteOffset: $0 * 8, as: Int.self)), radix: 16) }
        }
        say("frame addresses \(raw)")
    }
    free(p)
}

// MARK: main

let arguments = CommandLine.arguments.dropFirst()
let mode = arguments.first ?? "status"
let number = arguments.dropFirst().first.flatMap { Int($0) }

switch MemoryHooks.status {
case .active: say("active rate \(MemoryHooks.rate)")
case .standingAside(let reason): say("standing aside: \(reason)")
case .switchedOff: say("switched off")
case .compiledOut: say("compiled out")
}

switch mode {
case "status": break
case "counts": countsMode()
case "model": modelMode(number ?? 10_000)
case "threads": threadsMode()
case "churn": churnMode(number ?? 200)
case "fork": forkMode()
case "dlopen": dlopenMode()
case "frames": framesMode()
case "profile": profileMode(arguments.dropFirst().first ?? "memory.pb.gz")
case "serve": serveMode()
case "scoped-churn": scopedChurnMode(number ?? 1000)
default:
    say("unknown mode \(mode)")
    exit(2)
}
exit(failures.load(ordering: .relaxed) == 0 ? 0 : 1)
