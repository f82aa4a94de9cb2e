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
        /// `#fileID` of the call site.
        package var file: String
        /// `#line` of the call site.
        package var line: Int
        /// The shared object that holds the call site; nil for the main program (or unknown).
        package var mapping: Mapping?

        package init(name: String, systemName: String? = nil, file: String, line: Int, mapping: Mapping? = nil) {
            self.name = name
            self.systemName = systemName ?? name
            self.file = file
            self.line = line
            self.mapping = mapping
        }
    }

    /// A loaded object (pprof `Mapping`) that holds call sites: its path and GNU build id.
    package struct Mapping: Sendable, Hashable {
        package var path: String
        /// Lowercase hex, or "" when it was linked without one.
        package var buildID: String

        package init(path: String, buildID: String) {
            self.path = path
            self.buildID = buildID
        }
    }

    /// One call path (a node of the calling-context tree). Its path is its own function
    /// after those of its ancestors.
    package struct Node: Sendable, Hashable {
        /// Index of the parent node in `nodes`, or -1 for a root; always below this node's index.
        package var parent: Int32
        /// Index into `functions`.
        package var function: Int32
        /// Calls that completed along this path.
        package var calls: UInt64
        /// Time spent in this path's frame itself, children excluded, in nanoseconds.
        package var ownNanoseconds: UInt64
        /// Index into `labelSets` of the labels on this node's samples, or -1 for none. Two
        /// nodes may share a path and differ in labels.
        package var labels: Int32

        package init(parent: Int32, function: Int32, calls: UInt64, ownNanoseconds: UInt64, labels: Int32 = -1) {
            self.parent = parent
            self.function = function
            self.calls = calls
            self.ownNanoseconds = ownNanoseconds
            self.labels = labels
        }
    }

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

        package init() {}
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
