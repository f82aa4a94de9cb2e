import CZlib

/// gzip compression with the system zlib: pprof profiles travel gzipped.
///
/// ```swift
/// let packed = Gzip.compress(bytes)            // best speed, as Go's runtime/pprof
/// let bytes = try Gzip.decompress(packed)
/// ```
package enum Gzip {
    /// Why zlib refused: its return code and message.
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    /// `windowBits` of 15 (a 32 KiB window) plus 16 selects the gzip wrapper instead of zlib's.
    private static let gzipWindowBits: Int32 = 15 + 16

    /// Compresses `bytes` into one gzip member.
    ///
    /// - Parameters:
    ///   - bytes: the data.
    ///   - level: zlib's level, 1 (best speed, Go's choice for profiles) to 9.
    /// - Returns: the gzip stream.
    package static func compress(_ bytes: [UInt8], level: Int32 = 1) -> [UInt8] {
        var stream = z_stream()
        let status = deflateInit2_(
            &stream,
            level,
            Z_DEFLATED,
            gzipWindowBits,
            8,
            Z_DEFAULT_STRATEGY,
            ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size)
        )
        // Fails only on a bad level or out of memory: both are programming or fatal errors.
        precondition(status == Z_OK, "deflateInit2_ failed: \(status)")
        defer { deflateEnd(&stream) }

        // deflateBound is exact enough for a single Z_FINISH call; the loop covers inputs above
        // 4 GiB, which avail_in (a UInt32) cannot describe at once.
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 64)
        var produced = 0
        bytes.withUnsafeBufferPointer { input in
            var consumed = 0
            while true {
                let chunk = min(input.count - consumed, Int(UInt32.max))
                let last = consumed + chunk == input.count
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0 + consumed })
                stream.avail_in = uInt(chunk)
                var result: Int32
                repeat {
                    if produced == output.count {
                        output.append(contentsOf: repeatElement(0, count: max(output.count, 1 << 16)))
                    }
                    let space = min(output.count - produced, Int(UInt32.max))
                    result = output.withUnsafeMutableBufferPointer { out in
                        stream.next_out = out.baseAddress! + produced
                        stream.avail_out = uInt(space)
                        let result = deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH)
                        produced += space - Int(stream.avail_out)
                        return result
                    }
                    precondition(result == Z_OK || result == Z_STREAM_END || result == Z_BUF_ERROR)
                } while (last && result != Z_STREAM_END) || stream.avail_in > 0
                consumed += chunk
                if last { break }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Decompresses a gzip stream (several concatenated members are read as one, as `gunzip`
    /// does).
    ///
    /// - Parameters:
    ///   - bytes: the gzip stream.
    ///   - limit: the largest output accepted, against decompression bombs.
    /// - Returns: the data.
    /// - Throws: `Gzip.Failure` when the stream is corrupt, truncated or too large.
    package static func decompress(_ bytes: [UInt8], limit: Int = 1 << 30) throws -> [UInt8] {
        guard !bytes.isEmpty else { throw Failure(description: "gzip: empty input") }
        var stream = z_stream()
        let status = inflateInit2_(&stream, gzipWindowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw Failure(description: "gzip: inflateInit2_ failed (\(status))") }
        defer { inflateEnd(&stream) }

        var output = [UInt8](repeating: 0, count: min(max(bytes.count * 4, 1 << 12), limit + 1))
        var produced = 0
        try bytes.withUnsafeBufferPointer { input in
            var consumed = 0
            while true {
                let chunk = min(input.count - consumed, Int(UInt32.max))
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + consumed)
                stream.avail_in = uInt(chunk)
                if produced == output.count {
                    guard output.count <= limit else {
                        throw Failure(description: "gzip: data larger than \(limit) bytes")
                    }
                    output.append(contentsOf: repeatElement(0, count: min(output.count, limit + 1 - output.count)))
                }
                let space = min(output.count - produced, Int(UInt32.max))
                let result = output.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = uInt(space)
                    let result = inflate(&stream, Z_NO_FLUSH)
                    produced += space - Int(stream.avail_out)
                    return result
                }
                consumed += chunk - Int(stream.avail_in)
                switch result {
                case Z_STREAM_END:
                    // Another member may follow; anything else after it is corrupt (inflate
                    // rejects a bad header with Z_DATA_ERROR on the next round).
                    if consumed == input.count { return }
                    inflateReset(&stream)
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_out > 0:
                    // No progress with input exhausted and room to write: the stream stops early.
                    throw Failure(description: "gzip: truncated data")
                case Z_BUF_ERROR:
                    continue
                default:
                    let message = stream.msg.flatMap { String(validatingCString: $0) } ?? "error \(result)"
                    throw Failure(description: "gzip: corrupt data (\(message))")
                }
            }
        }
        if produced > limit { throw Failure(description: "gzip: data larger than \(limit) bytes") }
        output.removeSubrange(produced...)
        return output
    }
}
