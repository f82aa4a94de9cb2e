extension Profile {
    /// What the recorder counted besides the tree: losses, misuse, and how time was measured.
    package struct Statistics: Sendable, Hashable {
        /// Events folded into the tree in this window.
        package var eventsRecorded: UInt64 = 0
        /// Events dropped because a thread's ring was full.
        package var eventsDropped: UInt64 = 0
        /// Exits of a token that was not open on its thread: exited twice, or after an outer
        /// scope had already closed it. Ignored.
        package var staleExits: UInt64 = 0
        /// Exits of a token on a thread other than the one that entered it. Ignored.
        package var wrongThreadExits: UInt64 = 0
        /// Scopes closed by the exit of an enclosing scope because their own exit had not come.
        package var implicitlyClosed: UInt64 = 0
        /// Scopes still open when their thread ended; closed at its last event.
        package var openAtThreadExit: UInt64 = 0
        /// Exits, while recording, of scopes entered before recording began.
        package var enteredBeforeRecording: UInt64 = 0
        /// Threads that recorded at least one event in this window.
        package var threads: Int = 0
        /// "tsc", "monotonic" or "none" (cprof).
        package var clockSource: String = "none"
        /// The measured cost of one recorded enter/exit pair, in nanoseconds.
        package var hookPairNanoseconds: Double = 0
        /// Nodes in the process's call tree when the window closed, and its limit.
        package var callTreeNodes: Int = 0
        package var callTreeNodeLimit: Int = 0
        /// Whether the call tree was full: new call paths went under `(call tree full)`.
        package var callTreeFull = false
        /// Async frames that took their parent's path because the path table was full
        /// (since the process started).
        package var asyncPathsRefused: Int = 0
        /// CPU samples a second of each thread's CPU time while the window was open; 0 when
        /// none were taken (cprof, `PPROF_CPU_HZ=0`, or sampling unavailable).
        package var cpuHz: Int = 0
        /// CPU samples charged to the window's call paths, in timer periods.
        package var cpuSamples: UInt64 = 0
        /// Of those, the periods that came with another's signal: the timer expired again
        /// before its signal was delivered, or several times between two of the kernel's checks
        /// (a loaded machine), and the kernel sent one signal with the count of the others.
        package var cpuOverruns: UInt64 = 0
        /// CPU samples lost because a thread's sample ring was full.
        package var cpuSamplesDropped: UInt64 = 0
        /// Why no CPU samples were taken although they were asked for, or "".
        package var cpuUnavailable: String = ""

        package init() {}
    }
}

extension Profile.Statistics {
    /// How a member is written in the machine-readable comment line.
    package enum Member {
        case count(WritableKeyPath<Profile.Statistics, UInt64>)
        case integer(WritableKeyPath<Profile.Statistics, Int>)
        case real(WritableKeyPath<Profile.Statistics, Double>)
        case flag(WritableKeyPath<Profile.Statistics, Bool>)
        case text(WritableKeyPath<Profile.Statistics, String>)
    }

    /// Every member with its key in the machine-readable comment line, in the line's order: the
    /// one table that writes the line and reads it back, so a new counter is one more row.
    package static var members: [(key: String, member: Member)] {
        [
            ("events", .count(\.eventsRecorded)),
            ("dropped", .count(\.eventsDropped)),
            ("stale", .count(\.staleExits)),
            ("wrong_thread", .count(\.wrongThreadExits)),
            ("implicitly_closed", .count(\.implicitlyClosed)),
            ("open_at_thread_exit", .count(\.openAtThreadExit)),
            ("entered_before_recording", .count(\.enteredBeforeRecording)),
            ("threads", .integer(\.threads)),
            ("clock", .text(\.clockSource)),
            ("hookpair_ns", .real(\.hookPairNanoseconds)),
            ("nodes", .integer(\.callTreeNodes)),
            ("limit", .integer(\.callTreeNodeLimit)),
            ("full", .flag(\.callTreeFull)),
            ("async_refused", .integer(\.asyncPathsRefused)),
            ("cpu_hz", .integer(\.cpuHz)),
            ("cpu_samples", .count(\.cpuSamples)),
            ("cpu_overruns", .count(\.cpuOverruns)),
            ("cpu_dropped", .count(\.cpuSamplesDropped)),
            ("cpu_off", .text(\.cpuUnavailable)),
        ]
    }
}

extension Profile {
    /// The start of the machine-readable comment line.
    package static let statisticsLinePrefix = "swift-pprof:"

    /// The mode and every statistic in one comment line of `key=value` words, which
    /// `statistics(fromCommentLine:)` reads back exactly (no parsing of the English lines):
    ///
    /// ```
    /// swift-pprof: mode=fprof events=28 dropped=3 stale=2 … clock=tsc hookpair_ns=26.06 nodes=0 limit=0 full=0 async_refused=0
    /// ```
    package var statisticsLine: String {
        var words = [Self.statisticsLinePrefix, "mode=" + mode.rawValue]
        for (key, member) in Statistics.members {
            let value: String
            switch member {
            case .count(let path): value = String(statistics[keyPath: path])
            case .integer(let path): value = String(statistics[keyPath: path])
            case .real(let path): value = String(statistics[keyPath: path])  // shortest exact form
            case .flag(let path): value = statistics[keyPath: path] ? "1" : "0"
            case .text(let path): value = Self.escaped(statistics[keyPath: path])
            }
            words.append(key + "=" + value)
        }
        return words.joined(separator: " ")
    }

    /// The mode and statistics of a line that `statisticsLine` wrote, or nil for any other line.
    /// Members the line lacks stay zero and keys it does not know are skipped, so that files
    /// written by an older or newer version still read; a mode it does not know is nil.
    package static func statistics(fromCommentLine line: String) -> (mode: Mode?, statistics: Statistics)? {
        let words = line.split(separator: " ")
        guard words.first == Substring(statisticsLinePrefix) else { return nil }
        var mode: Mode?
        var statistics = Statistics()
        let members = Dictionary(Statistics.members.map { ($0.key, $0.member) }) { first, _ in first }
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else { continue }
            let key = String(word[..<equals])
            let value = String(word[word.index(after: equals)...])
            if key == "mode" {
                mode = Mode(rawValue: value)
                continue
            }
            switch members[key] {
            case .count(let path)?: statistics[keyPath: path] = UInt64(value) ?? 0
            case .integer(let path)?: statistics[keyPath: path] = Int(value) ?? 0
            case .real(let path)?: statistics[keyPath: path] = Double(value) ?? 0
            case .flag(let path)?: statistics[keyPath: path] = value == "1"
            case .text(let path)?: statistics[keyPath: path] = unescaped(value)
            case nil: break
            }
        }
        return (mode, statistics)
    }

    /// Percent-escapes what would end a word or a key (space, `=`, `%`, and anything not ASCII
    /// printable), so that a text value is one word.
    private static func escaped(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            if byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "%") {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return result
    }

    private static func unescaped(_ word: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = word.utf8[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
