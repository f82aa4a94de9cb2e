/// The result of one recording window: a calling-context tree with calls and own time per call
/// path, ready to be written as pprof, as an fprof-style report, or as folded stacks.
///
/// ```swift
/// let window = Profiler.start(mode: .fprof)
/// runWorkload()
/// let profile = window.stop()
/// try profile.write(to: "workload.pb.gz")   // go tool pprof -top workload.pb.gz
/// print(profile.report())                   // callers above, callees below, sorted by ACC
/// ```
public struct Profile: Sendable {
    /// What a window records, after Erlang's three profilers.
    ///
    /// ```swift
    /// let counts = Profiler.start(mode: .cprof)   // call counts only, no clock read at all
    /// ```
    public enum Mode: String, Sendable, CaseIterable {
        /// Full call paths with calls and wall time (own and accumulated). The default.
        case fprof
        /// Flat, per function: calls and own wall time, one frame per sample.
        case eprof
        /// Call counts along full call paths; the hooks read no clock.
        case cprof
    }

    /// One function of the profile: the identity of one probe (a name at a call site).
    package struct Function: Sendable, Hashable {
        /// The name the user gave the scope; for an unnamed scope its enclosing function,
        /// qualified where known (`JSONParser.parse(_:)`), else `#function`.
        package var name: String
        /// The enclosing function's demangled symbol where known, else `name`.
        package var systemName: String
        /// `#fileID` of the call site: what our own reports print.
        package var file: String
        /// `#line` of the call site.
        package var line: Int
        /// The shared object that holds the call site; nil for the main program (or unknown).
        package var mapping: Mapping?
        /// The call site's source file as it was compiled (`#filePath`), found once at
        /// registration; "" where unknown. pprof's `filename`, so that `go tool pprof -list`
        /// finds the code; `file` where empty.
        package var path: String
        /// An address inside the call site's function (the return address of the registration's
        /// call, inside the code that inlined the hook), at its object's link-time address like
        /// `mapping`'s segment; 0 where unknown (the builder then uses the program's entry point,
        /// or another mapping's start).
        package var address: UInt64

        package init(
            name: String,
            systemName: String? = nil,
            file: String,
            line: Int,
            mapping: Mapping? = nil,
            path: String = "",
            address: UInt64 = 0
        ) {
            self.name = name
            self.systemName = systemName ?? name
            self.file = file
            self.line = line
            self.mapping = mapping
            self.path = path
            self.address = address
        }
    }

    /// A loaded object (pprof `Mapping`) that holds call sites: its path, GNU build id and
    /// executable segment, in which its functions' addresses lie. Addresses are the object's own
    /// (link-time, the load bias taken off): Go's `go tool pprof` reads a location's address as
    /// an address in the file's symbol table, and google/pprof agrees for such a mapping.
    package struct Mapping: Sendable, Hashable {
        package var path: String
        /// Lowercase hex, or "" when it was linked without one.
        package var buildID: String
        /// The executable segment's first and one-past-last link-time addresses, page-aligned.
        package var start: UInt64
        package var limit: UInt64
        /// The file offset that `start` maps.
        package var offset: UInt64

        package init(path: String, buildID: String, start: UInt64 = 0, limit: UInt64 = 0, offset: UInt64 = 0) {
            self.path = path
            self.buildID = buildID
            self.start = start
            self.limit = limit
            self.offset = offset
        }
    }

    /// One call path (a node of the calling-context tree). Its path is its own function
    /// after those of its ancestors.
    package struct Node: Sendable, Hashable {
        /// Index of the parent node in `nodes`, or -1 for a root; always below this node's index.
        package var parent: Int32
        /// Index into `functions`.
        package var function: Int32
        /// What was measured on this path itself: calls that completed along it, and its own
        /// wall time (children excluded) in nanoseconds.
        package var values: Measurements
        /// Index into `labelSets` of the labels on this node's samples, or -1 for none. Two
        /// nodes may share a path and differ in labels.
        package var labels: Int32

        /// Calls that completed along this path.
        package var calls: UInt64 {
            get { values.calls }
            set { values.calls = newValue }
        }
        /// Time spent in this path's frame itself, children excluded, in nanoseconds.
        package var ownNanoseconds: UInt64 {
            get { values.wall }
            set { values.wall = newValue }
        }

        package init(parent: Int32, function: Int32, values: Measurements, labels: Int32 = -1) {
            self.parent = parent
            self.function = function
            self.values = values
            self.labels = labels
        }

        package init(parent: Int32, function: Int32, calls: UInt64, ownNanoseconds: UInt64, labels: Int32 = -1) {
            self.init(
                parent: parent,
                function: function,
                values: Measurements(calls: calls, wall: ownNanoseconds),
                labels: labels
            )
        }
    }

    /// What this profile records.
    public let mode: Mode
    /// When the window opened, in nanoseconds since the Unix epoch (pprof `time_nanos`).
    public let startWallNanoseconds: UInt64
    /// How long the window was open, in nanoseconds (pprof `duration_nanos`).
    public let durationNanoseconds: UInt64

    /// Hook events folded into this profile.
    public var eventsRecorded: UInt64 { statistics.eventsRecorded }
    /// Hook events lost because a thread's ring was full (also in the comments and the report).
    public var eventsDropped: UInt64 { statistics.eventsDropped }

    package var functions: [Function]
    package var nodes: [Node]
    package var statistics: Statistics
    /// The label sets nodes refer to (`Trace.withLabels`), each merged along its path.
    package var labelSets: [[String: String]]

    package init(
        mode: Mode,
        startWallNanoseconds: UInt64,
        durationNanoseconds: UInt64,
        functions: [Function],
        nodes: [Node],
        statistics: Statistics,
        labelSets: [[String: String]] = []
    ) {
        self.mode = mode
        self.startWallNanoseconds = startWallNanoseconds
        self.durationNanoseconds = durationNanoseconds
        self.functions = functions
        self.nodes = nodes
        self.statistics = statistics
        self.labelSets = labelSets
    }
}
