/// Decimal formatting without Foundation, for the report and the pprof comments.
package enum FixedPoint {
    /// `value` rounded to `decimals` places: `format(26.06, decimals: 1) == "26.1"`.
    package static func format(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9.0e18 else { return "\(value)" }
        return digits(UInt64(scaled), decimals: decimals, negative: value < 0 && scaled > 0)
    }

    /// Nanoseconds as milliseconds with three decimals: `milliseconds(1_234_567) == "1.235"`.
    package static func milliseconds(_ nanoseconds: UInt64) -> String {
        // Round half up in integers, so large values keep every digit.
        let microseconds = nanoseconds / 1000 + (nanoseconds % 1000 >= 500 ? 1 : 0)
        return digits(microseconds, decimals: 3, negative: false)
    }

    private static func digits(_ scaled: UInt64, decimals: Int, negative: Bool) -> String {
        var divisor: UInt64 = 1
        for _ in 0..<decimals { divisor *= 10 }
        let sign = negative ? "-" : ""
        guard decimals > 0 else { return "\(sign)\(scaled)" }
        let fraction = String(scaled % divisor)
        let padding = String(repeating: "0", count: decimals - fraction.count)
        return "\(sign)\(scaled / divisor).\(padding)\(fraction)"
    }
}
