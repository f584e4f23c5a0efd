import ArgumentParser
import Foundation

/// Writes to the terminal: results on stdout, warnings and errors on stderr.
enum Terminal {
    static func note(_ message: String) {
        FileHandle.standardError.write(Data("note: \(message)\n".utf8))
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }

    /// Prints one error line and returns exit status 2 (the CLI contract for "could not do it")
    /// for the caller to throw, so the command unwinds normally instead of calling `exit`.
    static func failure(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }

    /// Writes the dataplane document one service port at a time, so a 10k-service answer is never
    /// held twice in memory (as `JSONEncoder` would for the whole document). Same shape and key
    /// order as encoding ``DataplaneJSON`` whole.
    static func printDataplaneJSON(_ document: DataplaneJSON) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Data()
        out.append(contentsOf: #"{"mode":"#.utf8)
        out.append(try encoder.encode(document.mode))
        out.append(contentsOf: #","servicePorts":["#.utf8)
        let stdout = FileHandle.standardOutput
        for (i, port) in document.servicePorts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: "\n  ".utf8)
            out.append(try encoder.encode(port))
            if out.count > 1 << 16 {
                stdout.write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        out.append(contentsOf: "\n],\"warnings\":".utf8)
        out.append(try encoder.encode(document.warnings))
        out.append(contentsOf: "}\n".utf8)
        stdout.write(out)
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(value))
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}
