import Pprof

extension Profile {
    /// The library's profile model rebuilt from a decoded pprof profile, so that the
    /// fprof-style `report()` reads a file as it reads a window it recorded.
    ///
    /// ```swift
    /// let profile = Profile(decoded: try ProfileSource.load("app.pb.gz"))
    /// print(profile.report())
    /// ```
    ///
    /// Each sample's stack becomes a call path whose calls and own time are its `calls` and
    /// `wall` values (summed over samples that share the stack; labels are dropped). The mode
    /// comes from the `mode:` comment our encoder writes, else from the sample types (`wall`
    /// present: fprof; absent: cprof). Functions keep name, file and line; the counters the
    /// report shows (events dropped, misuse, entered before recording) are read back from the
    /// comments.
    package init(decoded: DecodedProfile) {
        let callsColumn = decoded.sampleTypeIndex("calls")
        let wallColumn = decoded.sampleTypeIndex("wall")
        let comments = decoded.comments

        var functions: [Function] = []
        var functionIndex: [UInt64: Int32] = [:]
        for function in decoded.functions where functionIndex[function.id] == nil {
            functionIndex[function.id] = Int32(functions.count)
            functions.append(
                Function(
                    name: decoded.string(function.name),
                    systemName: decoded.string(function.systemName),
                    file: decoded.string(function.filename),
                    line: Int(clamping: function.startLine)
                )
            )
        }
        var addressFunctions: [UInt64: Int32] = [:]
        func addressFunction(_ address: UInt64) -> Int32 {
            if let index = addressFunctions[address] { return index }
            let index = Int32(functions.count)
            functions.append(Function(name: "0x" + String(address, radix: 16), file: "", line: 0))
            addressFunctions[address] = index
            return index
        }
        var unknown: Int32?
        func unknownFunction() -> Int32 {
            if let unknown { return unknown }
            unknown = Int32(functions.count)
            functions.append(Function(name: "?", file: "", line: 0))
            return unknown!
        }
        // A location's lines run innermost first; a path reads root..leaf.
        var locationFrames: [UInt64: [Int32]] = [:]
        for location in decoded.locations {
            let frames = location.lines.reversed().map { functionIndex[$0.functionID] ?? unknownFunction() }
            locationFrames[location.id] = frames.isEmpty ? [addressFunction(location.address)] : frames
        }

        var nodes: [Node] = []
        var children: [Int64: Int32] = [:]  // parent node and function: the child node
        for sample in decoded.samples {
            var parent: Int32 = -1
            for locationID in sample.locationIDs.reversed() {
                for function in locationFrames[locationID] ?? [unknownFunction()] {
                    let key = Int64(parent) << 32 | Int64(UInt32(bitPattern: function))
                    if let child = children[key] {
                        parent = child
                    } else {
                        nodes.append(Node(parent: parent, function: function, calls: 0, ownNanoseconds: 0))
                        parent = Int32(nodes.count - 1)
                        children[key] = parent
                    }
                }
            }
            guard parent >= 0 else { continue }
            func value(_ column: Int?) -> UInt64 {
                guard let column, column < sample.values.count else { return 0 }
                return UInt64(clamping: sample.values[column])
            }
            nodes[Int(parent)].calls &+= value(callsColumn)
            nodes[Int(parent)].ownNanoseconds &+= value(wallColumn)
        }

        let modeName = comments.first { $0.hasPrefix("mode: ") }?.dropFirst("mode: ".count).prefix { $0 != " " }
        let mode = modeName.flatMap { Mode(rawValue: String($0)) } ?? (wallColumn == nil ? .cprof : .fprof)
        self.init(
            mode: mode,
            startWallNanoseconds: UInt64(clamping: decoded.timeNanos),
            durationNanoseconds: UInt64(clamping: decoded.durationNanos),
            functions: functions,
            nodes: nodes,
            statistics: Statistics(comments: comments)
        )
    }
}

extension Profile.Statistics {
    /// The counters our encoder writes as comments (`Profile.commentLines`), read back; those
    /// absent stay zero.
    init(comments: [String]) {
        self.init()
        for comment in comments {
            guard let colon = comment.firstIndex(of: ":") else { continue }
            let key = comment[..<colon]
            let rest = comment[comment.index(after: colon)...].drop { $0 == " " }
            let number = UInt64(rest.prefix { $0.isASCII && $0.isNumber }) ?? 0
            switch key {
            case "events":
                eventsRecorded = number
                if let dropped = rest.split(separator: ",").dropFirst().first?.drop(while: { $0 == " " }) {
                    eventsDropped = UInt64(dropped.prefix { $0.isASCII && $0.isNumber }) ?? 0
                }
            case "stale exits": staleExits = number
            case "wrong-thread exits": wrongThreadExits = number
            case "implicitly closed": implicitlyClosed = number
            case "open at thread exit": openAtThreadExit = number
            case "entered before recording": enteredBeforeRecording = number
            case "threads": threads = Int(clamping: number)
            case "clock source": clockSource = String(rest)
            default: break
            }
        }
    }
}
