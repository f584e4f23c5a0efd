/// Splits one `iptables-save` line into words, the way `iptables-restore` reads it back.
///
/// `iptables-save` (iptables 1.8, `xtables_save_string`) quotes a value with double quotes when it holds
/// anything but letters, digits, `_` and `-`, and escapes `"`, `\` and `'` inside the quotes with a
/// backslash. kube-proxy's comments (`"ns/name:port cluster IP"`) always take that path. A quoted word is
/// always a value, never an option, even when it starts with `-`, so the tokenizer remembers quoting.
public enum IPTablesTokenizer {
    /// One word of a rule line.
    public struct Token: Hashable, Sendable, CustomStringConvertible {
        /// The word with quotes removed and escapes resolved.
        public var text: String
        /// Whether any part of the word was quoted (then it is a value, never an option or `!`).
        public var quoted: Bool

        public init(_ text: String, quoted: Bool = false) {
            self.text = text
            self.quoted = quoted
        }

        public var description: String { quoted ? "\"\(text)\"" : text }
    }

    /// The words of `line`, or `nil` when a quote is left open (a line `iptables-restore` would reject too).
    public static func tokenize(_ line: some StringProtocol) -> [Token]? {
        var tokens: [Token] = []
        var current = ""
        var inToken = false
        var quoted = false
        var inQuotes = false
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if inQuotes {
                switch character {
                case "\\": escaped = true
                case "\"": inQuotes = false
                default: current.append(character)
                }
                continue
            }
            switch character {
            case "\"":
                inQuotes = true
                inToken = true
                quoted = true
            case " ", "\t", "\r", "\n":
                if inToken {
                    tokens.append(Token(current, quoted: quoted))
                    current = ""
                    inToken = false
                    quoted = false
                }
            default:
                current.append(character)
                inToken = true
            }
        }
        if inQuotes || escaped { return nil }
        if inToken { tokens.append(Token(current, quoted: quoted)) }
        return tokens
    }
}
