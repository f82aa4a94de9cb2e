import NIOHTTP1

/// The check of `Authorization: Bearer <token>` when the server has a token.
///
/// ```swift
/// BearerToken.authorizes(HTTPHeaders([("Authorization", "Bearer s3cret")]), token: "s3cret")   // true
/// ```
package enum BearerToken {
    /// Whether `headers` carry exactly one `Authorization` header, `Bearer <token>` (the scheme in
    /// any case, as RFC 9110 has it).
    package static func authorizes(_ headers: HTTPHeaders, token: String) -> Bool {
        let values = headers["Authorization"]
        guard values.count == 1 else { return false }
        let value = values[0]
        let scheme = "bearer "
        guard value.utf8.count > scheme.utf8.count, value.lowercased().hasPrefix(scheme) else { return false }
        return constantTimeEquals(Array(value.utf8.dropFirst(scheme.utf8.count)), Array(token.utf8))
    }

    /// Whether `given` equals `expected`, in a time that depends on `expected`'s length only:
    /// neither where the first difference is nor how long `given` is shows in it, so a client
    /// cannot find the token byte by byte (or its length) by timing refusals. Every byte of
    /// `expected` is compared, and the differences are folded with `|` without branching.
    package static func constantTimeEquals(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for i in 0..<expected.count {
            difference |= expected[i] ^ (i < given.count ? given[i] : 0)
        }
        return difference == 0
    }
}
