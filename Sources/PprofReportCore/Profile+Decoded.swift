import Pprof
import PprofTestKit

extension Profile {
    /// The library's profile model rebuilt from a decoded pprof profile, so that the
    /// fprof-style `report()` reads a file as it reads a window it recorded.
    ///
    /// ```swift
    /// let profile = Profile(decoded: try ProfileSource.load("app.pb.gz"))
    /// print(profile.report())
    /// ```
    ///
    /// Each sample's stack becomes a call path whose calls, own time and CPU are its `calls`,
    /// `wall`, `samples` and `cpu` values (summed over samples that share the stack; labels are
    /// dropped). The mode and the statistics come from the machine-readable comment line our
    /// encoder writes (`Profile.statisticsLine`); without one the mode comes from the sample
    /// types (`wall` present: fprof; absent: cprof) and the statistics stay zero. Functions keep
    /// name, file and line.
    package init(decoded: DecodedProfile) {
        let callsColumn = decoded.sampleTypeIndex("calls")
        let wallColumn = decoded.sampleTypeIndex("wall")
        let samplesColumn = decoded.sampleTypeIndex("samples")
        let cpuColumn = decoded.sampleTypeIndex("cpu")

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
            nodes[Int(parent)].values.cpuSamples &+= value(samplesColumn)
            nodes[Int(parent)].values.cpuNanoseconds &+= value(cpuColumn)
        }

        let recorded = decoded.recorded
        let mode = recorded?.mode ?? (wallColumn == nil ? .cprof : .fprof)
        self.init(
            mode: mode,
            startWallNanoseconds: UInt64(clamping: decoded.timeNanos),
            durationNanoseconds: UInt64(clamping: decoded.durationNanos),
            functions: functions,
            nodes: nodes,
            statistics: recorded?.statistics ?? Statistics()
        )
    }
}
