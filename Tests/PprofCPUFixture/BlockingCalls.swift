import CPprof
import CPprofCPUFixture
import Pprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Set once every blocking thread has its CPU-time timer: the rounds begin.
let blockersGo = Atomic<Bool>(false)

func waitForGo() {
    while !blockersGo.load(ordering: .acquiring) { pause(nanoseconds: 1_000_000) }
}

/// One sampled thread that blocks in one kind of call, and what its calls returned.
///
/// It blocks `rounds` times for `blockNanoseconds` inside a scope (so it has recorder state
/// and a CPU-time timer), counting every EINTR instead of retrying it silently, then once more
/// for `controlNanoseconds` while the main thread sends it SIGPROF directly: the control shows
/// that this test would see an EINTR if sampling caused one.
final class Blocker: Sendable {
    static let rounds = 10
    static let blockNanoseconds: UInt64 = 150_000_000
    static let controlNanoseconds: UInt64 = 400_000_000

    let name: String
    let tid = Atomic<Int64>(0)
    /// EINTRs while sampled, and in the control round.
    let interrupted = Atomic<Int>(0)
    let controlInterrupted = Atomic<Int>(0)
    /// Results that were neither the expected one nor EINTR.
    let wrong = Atomic<Int>(0)
    let inControl = Atomic<Bool>(false)
    let cpuNanoseconds = Atomic<UInt64>(0)

    init(_ name: String) { self.name = name }

    /// Counts one EINTR in the current round.
    func countInterruption() {
        if inControl.load(ordering: .relaxed) {
            controlInterrupted.add(1, ordering: .relaxed)
        } else {
            interrupted.add(1, ordering: .relaxed)
        }
    }

    func unexpected(_ what: String) {
        wrong.add(1, ordering: .relaxed)
        say("FAIL \(name): \(what)")
    }

    /// Registers, waits for the go, then calls `block(nanoseconds)` once per round in a scope.
    func run(_ block: (UInt64) -> Void) {
        Trace.scope("block.register") {}
        tid.store(CPprof_threadKernelID(), ordering: .releasing)
        waitForGo()
        Trace.scope(named: "block.\(name)") {
            for _ in 0..<Self.rounds { block(Self.blockNanoseconds) }
            inControl.store(true, ordering: .releasing)
            block(Self.controlNanoseconds)
        }
        cpuNanoseconds.store(threadCPU(), ordering: .relaxed)
    }

    /// Waits `nanoseconds` per round, then once for the control round, then calls `act`: what
    /// ends a `read` or an `accept` (a thread with no recorder state, so never sampled).
    static func helper(_ act: @escaping @Sendable () -> Void) -> pthread_t {
        spawn {
            waitForGo()
            for round in 0...rounds {
                pause(nanoseconds: round == rounds ? controlNanoseconds : blockNanoseconds)
                act()
            }
        }
    }
}

/// `read` on a pipe that a helper writes a byte to after each delay.
func blockInRead(_ blocker: Blocker) -> [pthread_t] {
    var fds: [Int32] = [0, 0]
    pipe(&fds)
    let (readEnd, writeEnd) = (fds[0], fds[1])
    let writer = Blocker.helper {
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }
    let reader = spawn {
        blocker.run { _ in
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n == 1 { return }
                guard n < 0 && errno == EINTR else { return blocker.unexpected("read returned \(n), errno \(errno)") }
                blocker.countInterruption()
            }
        }
    }
    return [writer, reader]
}

/// `accept` on a loopback TCP socket that a helper connects to after each delay.
func blockInAccept(_ blocker: Blocker) -> [pthread_t] {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            _ = bind(listener, $0, length)
            _ = listen(listener, 16)
            _ = getsockname(listener, $0, &length)
        }
    }
    let bound = address
    let connector = Blocker.helper {
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var target = bound
        _ = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        close(client)
    }
    let acceptor = spawn {
        blocker.run { _ in
            while true {
                let client = accept(listener, nil, nil)
                if client >= 0 { return close(client) == 0 ? () : () }
                guard errno == EINTR else { return blocker.unexpected("accept failed, errno \(errno)") }
                blocker.countInterruption()
            }
        }
    }
    return [connector, acceptor]
}

/// `poll` with a timeout on a pipe that never has data: 0 each time, never -1 with EINTR.
func blockInPoll(_ blocker: Blocker) -> [pthread_t] {
    var fds: [Int32] = [0, 0]
    pipe(&fds)
    let readEnd = fds[0]
    return [
        spawn {
            blocker.run { nanoseconds in
                var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
                let n = poll(&entry, 1, Int32(nanoseconds / 1_000_000))
                if n < 0 && errno == EINTR { return blocker.countInterruption() }
                if n != 0 { blocker.unexpected("poll returned \(n), errno \(errno)") }
            }
        }
    ]
}

/// A raw `FUTEX_WAIT` with a timeout on a word nobody changes: ETIMEDOUT, never EINTR.
func blockInFutex(_ blocker: Blocker) -> [pthread_t] {
    [
        spawn {
            let word = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
            word.initialize(to: 0)
            defer { word.deallocate() }
            blocker.run { nanoseconds in
                let error = CPprofFixture_futexWait(word, 0, Int64(nanoseconds))
                if error == EINTR { return blocker.countInterruption() }
                if error != ETIMEDOUT { blocker.unexpected("futex wait returned errno \(error)") }
            }
        }
    ]
}

/// `nanosleep`: 0, never -1 with EINTR.
func blockInNanosleep(_ blocker: Blocker) -> [pthread_t] {
    [
        spawn {
            blocker.run { nanoseconds in
                var request = timespec(tv_sec: 0, tv_nsec: Int(nanoseconds))
                var remaining = timespec()
                if nanosleep(&request, &remaining) == 0 { return }
                if errno == EINTR { return blocker.countInterruption() }
                blocker.unexpected("nanosleep failed, errno \(errno)")
            }
        }
    ]
}
