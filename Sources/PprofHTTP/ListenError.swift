import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the server could not listen, said as a person reads it: the address, then the system's
/// reason, in place of NIO's `bind(descriptor:ptr:bytes:): Address already in use) (errno: 98)`.
///
/// ```swift
/// do { try await server.run() } catch { print(error) }
/// // cannot listen on 127.0.0.1:6060: address already in use
/// ```
struct ListenError: Error, CustomStringConvertible {
    /// `host:port` as asked (an IPv6 address in brackets).
    let address: String
    /// The system's reason, or the error's own words when it has no errno.
    let reason: String

    init(host: String, port: Int, error: any Error) {
        address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        if let error = error as? IOError {
            // strerror's sentence, lower-cased to follow the colon ("Address already in use").
            let sentence = String(decoding: Self.bytes(of: strerror(error.errnoCode)), as: UTF8.self)
            reason = sentence.prefix(1).lowercased() + sentence.dropFirst()
        } else {
            reason = "\(error)"
        }
    }

    var description: String { "cannot listen on \(address): \(reason)" }

    /// The bytes of a C string up to its NUL.
    private static func bytes(of string: UnsafePointer<CChar>?) -> UnsafeBufferPointer<UInt8> {
        guard let string else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(
            start: UnsafeRawPointer(string).assumingMemoryBound(to: UInt8.self),
            count: strlen(string)
        )
    }
}
