import PprofHTTP
import Testing

/// What `/debug/pprof/cmdline` hides and what it keeps: each shape of secret a command line
/// carries, and ordinary arguments that must come through unchanged.
struct CommandLineRedactionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var given: [String]
        var expected: [String]
        init(_ given: [String], _ expected: [String]) {
            self.given = given
            self.expected = expected
        }
        var testDescription: String { given.joined(separator: " ") }
    }

    static let secrets: [Case] = [
        // --name=value and Go's -name=value.
        Case(["app", "--token=abc"], ["app", "--token=<redacted>"]),
        Case(["app", "--api-key=abc"], ["app", "--api-key=<redacted>"]),
        Case(["app", "--apiKey=abc"], ["app", "--apiKey=<redacted>"]),
        Case(["app", "--client_secret=abc"], ["app", "--client_secret=<redacted>"]),
        Case(["app", "-password=abc"], ["app", "-password=<redacted>"]),
        Case(["app", "--db-passwd=abc"], ["app", "--db-passwd=<redacted>"]),
        Case(["app", "--aws-credentials=abc"], ["app", "--aws-credentials=<redacted>"]),
        Case(["app", "--auth=abc"], ["app", "--auth=<redacted>"]),
        Case(["app", "--key=abc"], ["app", "--key=<redacted>"]),
        Case(["app", "--accessToken=abc"], ["app", "--accessToken=<redacted>"]),
        // --name value: the next argument.
        Case(
            ["app", "--password", "hunter2", "--port", "6060"],
            ["app", "--password", "<redacted>", "--port", "6060"]
        ),
        Case(["app", "--token", "-starts-with-a-dash"], ["app", "--token", "<redacted>"]),
        Case(["app", "-token", "abc"], ["app", "-token", "<redacted>"]),
        // NAME=value.
        Case(["app", "DB_PASSWORD=abc"], ["app", "DB_PASSWORD=<redacted>"]),
        Case(["app", "AWS_SECRET_ACCESS_KEY=abc"], ["app", "AWS_SECRET_ACCESS_KEY=<redacted>"]),
        Case(["app", "token=abc"], ["app", "token=<redacted>"]),
        // Name: value (curl -H).
        Case(["app", "-H", "Authorization: Bearer abc"], ["app", "-H", "Authorization: <redacted>"]),
        Case(["app", "X-Api-Key: abc"], ["app", "X-Api-Key: <redacted>"]),
        // URLs: user information and secret query parameters, wherever the URL is.
        Case(["app", "https://user:pass@example.com/x"], ["app", "https://<redacted>@example.com/x"]),
        Case(["app", "https://ghp_abc@github.com/o/r.git"], ["app", "https://<redacted>@github.com/o/r.git"]),
        Case(["app", "--db=postgres://u:p@db:5432/app"], ["app", "--db=postgres://<redacted>@db:5432/app"]),
        Case(["app", "DATABASE_URL=mysql://u:p@h/db"], ["app", "DATABASE_URL=mysql://<redacted>@h/db"]),
        Case(["app", "https://h/cb?token=abc&page=2#top"], ["app", "https://h/cb?token=<redacted>&page=2#top"]),
    ]

    @Test(arguments: secrets)
    func secretsAreHidden(_ shape: Case) {
        #expect(CommandLineRedaction.redact(shape.given) == shape.expected)
        #expect(CommandLineRedaction.placeholder == "<redacted>")
    }

    static let ordinary: [[String]] = [
        ["app", "--port", "6060"],
        ["app", "--port=6060", "--duration", "10", "--output", "out.pb.gz"],
        // `key` only as a whole word.
        ["app", "--keyboard", "us", "--monkey=1"],
        // Single-letter options are not interpreted: -p is a port as often as a password.
        ["app", "-p", "8080", "-v"],
        // A switch followed by an option: nothing to hide.
        ["app", "--token", "--verbose"],
        // Paths, plain URLs, ordinary assignments and headers.
        ["/usr/bin/app", "/etc/app/config.yaml", "https://example.com/a?b=c", "MODE=fprof", "Accept: */*"],
        ["app", "https://example.com:8443/x", "--url=https://example.com/?page=1"],
        // The program's path is never touched.
        ["/opt/token-service/bin/app", "--level=debug"],
        [],
    ]

    @Test(arguments: ordinary)
    func ordinaryArgumentsAreKept(arguments: [String]) {
        #expect(CommandLineRedaction.redact(arguments) == arguments)
    }
}
