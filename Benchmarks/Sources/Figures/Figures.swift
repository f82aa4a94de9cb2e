// What the figure-printing executables share: medians and fixed-width numbers, without
// Foundation.

#if canImport(Glibc)
import Glibc
#endif

/// The median of `values` (the mean of the two middle ones for an even count).
public func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// `value` with `decimals` digits after the point, right-aligned in `width` characters.
///
/// ```swift
/// format(3.14159, 6)   // "  3.14"
/// ```
public func format(_ value: Double, _ width: Int = 0, decimals: Int = 2) -> String {
    let scale = pow(10, Double(decimals))
    var digits = String(Int((abs(value) * scale).rounded()))
    while digits.count <= decimals { digits = "0" + digits }
    if decimals > 0 { digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals)) }
    let text = (value < 0 ? "-" : "") + digits
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

/// `text` left-aligned in `width` characters.
public func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}
