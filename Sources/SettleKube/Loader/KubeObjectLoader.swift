import Foundation
import Yams

/// Loads Services, EndpointSlices and Nodes from files: what `kubectl get … -o yaml|json` prints.
///
/// Accepts YAML (several documents separated by `---`), JSON (one value per file), single objects
/// and lists (`kind: List` or `…List`, items of mixed kinds). Objects of other kinds are counted in
/// ``KubeObjects/ignored``. Unknown fields are ignored. Any syntax error, or a field of the wrong
/// type, fails the load with the file and line (``KubeLoadError``).
public enum KubeObjectLoader {
    /// File name extensions read from a directory.
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// Loads a file, or every `.yaml`/`.yml`/`.json` file under a directory (recursively, in path
    /// order, hidden files and folders skipped).
    public static func load(path: String) throws(KubeLoadError) -> KubeObjects {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable(path: path, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else { return try loadFile(path) }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else {
            throw .unreadable(path: path, reason: "cannot list directory")
        }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let components = relative.split(separator: "/")
            if components.contains(where: { $0.hasPrefix(".") }) { continue }
            let file = (path as NSString).appendingPathComponent(relative)
            var fileIsDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &fileIsDirectory), !fileIsDirectory.boolValue
            else { continue }
            if extensions.contains((relative as NSString).pathExtension.lowercased()) { files.append(file) }
        }
        var objects = KubeObjects()
        for file in files.sorted() { objects.append(contentsOf: try loadFile(file)) }
        return objects
    }

    /// Loads one file, whatever its extension.
    public static func loadFile(_ path: String) throws(KubeLoadError) -> KubeObjects {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unparseable(path: path, line: nil, reason: "not UTF-8 text")
        }
        return try load(text: text, path: path)
    }

    /// Loads objects from text; `path` only names the source in errors. Text whose first
    /// non-blank character is `{` or `[` is read as JSON, anything else as YAML.
    public static func load(text: String, path: String) throws(KubeLoadError) -> KubeObjects {
        let first = text.first { !$0.isWhitespace }
        if first == "{" || first == "[" { return try loadJSON(text: text, path: path) }
        return try loadYAML(text: text, path: path)
    }

    // MARK: - YAML

    static func loadYAML(text: String, path: String) throws(KubeLoadError) -> KubeObjects {
        var objects = KubeObjects()
        do {
            var documents = try Yams.compose_all(yaml: text)
            while let node = documents.next() {
                try decode(node: node, path: path).collect(into: &objects)
            }
            // The sequence stops at a syntax error and keeps it instead of throwing.
            if let error = documents.error { throw error }
        } catch let error as KubeLoadError {
            throw error
        } catch let error as YamlError {
            throw Self.loadError(error, path: path)
        } catch {
            throw .unparseable(path: path, line: nil, reason: "\(error)")
        }
        return objects
    }

    /// Decodes one document; an empty document (`---` alone, comments only) is an empty list.
    static func decode(node: Node, path: String) throws(KubeLoadError) -> KubeDocument {
        if case .scalar(let scalar) = node, scalar.tag == Tag(.null) || scalar.string.isEmpty { return .list([]) }
        guard case .mapping = node else {
            throw .unparseable(path: path, line: node.mark?.line, reason: "expected a Kubernetes object (a mapping)")
        }
        do {
            return try YAMLDecoder().decode(KubeDocument.self, from: node)
        } catch let error as DecodingError {
            let (codingPath, reason) = Self.describe(error)
            throw .unparseable(path: path, line: Self.line(of: codingPath, in: node), reason: reason)
        } catch let error as YamlError {
            throw Self.loadError(error, path: path)
        } catch {
            throw .unparseable(path: path, line: node.mark?.line, reason: "\(error)")
        }
    }

    static func loadError(_ error: YamlError, path: String) -> KubeLoadError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return .unparseable(path: path, line: mark.line, reason: "invalid YAML: \(problem)")
        default:
            return .unparseable(path: path, line: nil, reason: "invalid YAML: \(error)")
        }
    }

    /// The line of the deepest node `codingPath` reaches in `root`.
    static func line(of codingPath: [any CodingKey], in root: Node) -> Int? {
        var node = root
        var line = root.mark?.line
        for key in codingPath {
            let next: Node?
            switch node {
            case .mapping: next = node[key.stringValue]
            case .sequence: next = key.intValue.flatMap { node[$0] }
            default: next = nil
            }
            guard let next else { break }
            node = next
            if let mark = node.mark { line = mark.line }
        }
        return line
    }

    /// The coding path of a decoding error and one sentence about it.
    static func describe(_ error: DecodingError) -> ([any CodingKey], String) {
        func dotted(_ path: [any CodingKey]) -> String {
            var out = ""
            for key in path {
                if let index = key.intValue { out += "[\(index)]" } else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return out.isEmpty ? "the object" : out
        }
        switch error {
        case .typeMismatch(let type, let context):
            return (context.codingPath, "\(dotted(context.codingPath)): expected \(type)")
        case .valueNotFound(let type, let context):
            return (context.codingPath, "\(dotted(context.codingPath)): missing \(type) value")
        case .keyNotFound(let key, let context):
            return (context.codingPath, "\(dotted(context.codingPath + [key])): required field missing")
        case .dataCorrupted(let context):
            return (context.codingPath, "\(dotted(context.codingPath)): \(context.debugDescription)")
        @unknown default:
            return ([], "\(error)")
        }
    }

    // MARK: - JSON

    static func loadJSON(text: String, path: String) throws(KubeLoadError) -> KubeObjects {
        var objects = KubeObjects()
        do {
            let data = Data(text.utf8)
            if text.first(where: { !$0.isWhitespace }) == "[" {
                for document in try JSONDecoder().decode([KubeDocument].self, from: data) {
                    document.collect(into: &objects)
                }
            } else {
                try JSONDecoder().decode(KubeDocument.self, from: data).collect(into: &objects)
            }
            return objects
        } catch {
            // JSON is YAML: the YAML path finds the line of a syntax error or a mistyped field.
            // If it accepts what JSONDecoder refused, report JSONDecoder's own position.
            do throws(KubeLoadError) {
                _ = try loadYAML(text: text, path: path)
            } catch {
                throw error
            }
            throw .unparseable(path: path, line: Self.jsonLine(error), reason: "invalid JSON: \(Self.jsonReason(error))")
        }
    }

    /// `around line N` from Foundation's JSON error text, if present.
    static func jsonLine(_ error: any Error) -> Int? {
        let text = "\(error)"
        guard let range = text.range(of: "line ") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    static func jsonReason(_ error: any Error) -> String {
        if let error = error as? DecodingError { return describe(error).1 }
        return "\(error)"
    }
}
