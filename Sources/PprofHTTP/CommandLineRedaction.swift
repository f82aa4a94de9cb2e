/// Hides the arguments of a command line that look like secrets, for `/debug/pprof/cmdline`:
/// programs are started with `--token=…`, `DB_PASSWORD=…` or `https://user:pass@host`, and the
/// endpoint would otherwise hand them to anyone who can reach it.
///
/// It errs on the side of hiding: a flag whose name merely contains a secret-sounding word
/// (`--max-tokens`, `--author`) loses its value too, which costs a reader little. The program's
/// path (the first argument) is kept as it is.
///
/// ```swift
/// CommandLineRedaction.redact(["app", "--token=abc", "--password", "hunter2", "--port", "6060"])
/// // ["app", "--token=<redacted>", "--password", "<redacted>", "--port", "6060"]
/// ```
///
/// What it recognises:
/// - `--name=value` and `-name=value` (Go's flags take one dash) with a secret name: the value is hidden;
/// - `--name value` with a secret name: the next argument is hidden, unless it is a long option
///   itself (`--name --verbose`: `--name` was a switch). Single-letter options (`-p x`, and
///   MySQL's `-pSECRET`) are left alone: `-p` is a port as often as a password, and guessing
///   would hide ordinary values;
/// - `NAME=value` (an environment-style assignment) with a secret name;
/// - `Name: value` (a header, as curl's `-H` takes) with a secret name (`Authorization`, `X-Api-Key`);
/// - a URL's user information (`https://user:pass@host`, `https://token@host`), and the values of
///   secret-named parameters in its query (`?token=…`), wherever the URL appears in an argument.
///
/// A name is secret when one of its words (split at `-`, `_`, `.` and lower-to-upper case changes)
/// is one of `secretWords`, or contains one of `secretParts`.
package enum CommandLineRedaction {
    /// What stands in for a hidden value.
    package static let placeholder = "<redacted>"

    /// Whole words that make a name secret; `key` only as a whole word, so that `--keyboard` and
    /// `--monkey` keep their values while `--api-key` and `--key` do not.
    static let secretWords: Set<String> = [
        "key", "keys", "pass", "pw", "pwd", "auth", "cookie", "creds",
    ]
    /// Parts that make a name secret wherever they appear in a word (`dbpassword`, `accesstoken`).
    static let secretParts = [
        "secret", "token", "password", "passwd", "passphrase", "credential", "apikey", "accesskey",
        "privatekey", "authorization", "authentication", "bearer",
    ]

    /// `arguments` with the values that look like secrets replaced by `placeholder`.
    package static func redact(_ arguments: [String]) -> [String] {
        var result: [String] = []
        result.reserveCapacity(arguments.count)
        var hideNext = false
        for (index, argument) in arguments.enumerated() {
            if index == 0 {
                result.append(argument)
                continue
            }
            if hideNext {
                hideNext = false
                if !argument.hasPrefix("--") {
                    result.append(placeholder)
                    continue
                }
            }
            let (redacted, takesNext) = redact(argument: argument)
            result.append(redacted)
            hideNext = takesNext
        }
        return result
    }

    /// One argument with its secret parts hidden, and whether the next argument is this one's value.
    static func redact(argument: String) -> (String, takesNext: Bool) {
        if argument.hasPrefix("-"), argument.count > 2 || argument.hasPrefix("--") {
            let body = argument.drop { $0 == "-" }
            let dashes = argument.prefix(argument.count - body.count)
            // `-x` alone is a single-letter option: not interpreted (see the type's documentation).
            if dashes.count == 1, !body.contains("="), body.count < 2 { return (argument, false) }
            if let equals = body.firstIndex(of: "=") {
                let name = body[..<equals]
                if isSecret(name: name) { return (dashes + name + "=" + placeholder, false) }
                return (dashes + name + "=" + redactURLs(in: body[body.index(after: equals)...]), false)
            }
            return (argument, isSecret(name: body))
        }
        if let equals = argument.firstIndex(of: "="), isName(argument[..<equals]) {
            let name = argument[..<equals]
            if isSecret(name: name) { return (name + "=" + placeholder, false) }
            return (name + "=" + redactURLs(in: argument[argument.index(after: equals)...]), false)
        }
        if let colon = argument.firstIndex(of: ":"), isName(argument[..<colon]),
            argument[argument.index(after: colon)...].first == " "
        {
            let name = argument[..<colon]
            if isSecret(name: name) { return (name + ": " + placeholder, false) }
        }
        return (redactURLs(in: argument[...]), false)
    }

    /// Whether a flag, variable or header name looks like it names a secret.
    static func isSecret(name: Substring) -> Bool {
        let words = self.words(of: name)
        let joined = words.joined()
        if secretParts.contains(where: { joined.contains($0) }) { return true }
        return words.contains { secretWords.contains($0) }
    }

    /// The lower-cased words of a name: `AWS_SECRET_ACCESS_KEY` → aws, secret, access, key;
    /// `apiKey` → api, key.
    static func words(of name: Substring) -> [String] {
        var words: [String] = []
        var current = ""
        var previousWasLower = false
        for character in name {
            if character == "-" || character == "_" || character == "." {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousWasLower = false
                continue
            }
            if character.isUppercase, previousWasLower, !current.isEmpty {
                words.append(current)
                current = ""
            }
            previousWasLower = character.isLowercase || character.isNumber
            current += character.lowercased()
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Letters, digits, `-`, `_` and `.`, starting with a letter or `_`: a name, not a path or a value.
    static func isName(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == ".") }
    }

    /// `text` with the user information of every URL in it hidden, and the values of its
    /// secret-named query parameters.
    static func redactURLs(in text: Substring) -> String {
        guard text.contains("://") else { return String(text) }
        var output = ""
        var rest = text
        while let scheme = rest.firstRange(of: "://") {
            output += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            // The authority ends at the first `/`, `?`, `#` or space; user information is what
            // comes before its last `@`.
            let authorityEnd = rest.firstIndex { "/?# ".contains($0) } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                output += placeholder
                output += authority[at...]
            } else {
                output += authority
            }
            rest = rest[authorityEnd...]
            // The path and query, up to the next space or the next URL.
            let urlEnd = rest.firstIndex(of: " ") ?? rest.endIndex
            output += redactQuery(in: rest[..<urlEnd])
            rest = rest[urlEnd...]
        }
        output += rest
        return output
    }

    /// A URL's path and query with the values of secret-named parameters hidden.
    static func redactQuery(in pathAndQuery: Substring) -> String {
        guard let mark = pathAndQuery.firstIndex(of: "?") else { return String(pathAndQuery) }
        let fragmentStart = pathAndQuery.firstIndex(of: "#") ?? pathAndQuery.endIndex
        guard mark < fragmentStart else { return String(pathAndQuery) }
        let query = pathAndQuery[pathAndQuery.index(after: mark)..<fragmentStart]
        let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "="), isSecret(name: pair[..<equals]) else { return String(pair) }
            return pair[..<equals] + "=" + placeholder
        }
        return pathAndQuery[...mark] + pairs.joined(separator: "&") + pathAndQuery[fragmentStart...]
    }
}
