public import SettleModel

/// One `-A CHAIN …` line of an `iptables-save` dump, split into options.
///
/// The rule keeps every option in order with its negation and values, and the match module (`-m NAME`)
/// it belongs to, so the walker can tell a rule it fully understands from one it must skip. The
/// accessors below read the parts kube-proxy's iptables proxier writes (KK
/// `pkg/proxy/iptables/proxier.go` (syncProxyRules, writeServiceToEndpointRules)).
public struct IPTablesRule: Hashable, Sendable, CustomStringConvertible {
    /// One option with its values: `-d 10.0.0.1/32`, `! -s 10.244.0.0/16`, `--comment "ns/a:p cluster IP"`.
    public struct Option: Hashable, Sendable {
        /// The option as written: `-d`, `--dport`, `-j`.
        public var name: String
        /// Whether a `!` preceded the option.
        public var negated: Bool
        /// The words after the option up to the next option.
        public var values: [String]
        /// The last `-m` module named before this option (`nil` before any `-m`).
        public var module: String?

        public init(name: String, negated: Bool = false, values: [String] = [], module: String? = nil) {
            self.name = name
            self.negated = negated
            self.values = values
            self.module = module
        }

        /// The single value, or the values joined by spaces.
        public var value: String { values.joined(separator: " ") }
    }

    /// The chain the rule is appended to.
    public var chain: String
    public var options: [Option]
    /// The line as `iptables-save` printed it, for warnings.
    public var text: String

    public init(chain: String, options: [Option], text: String) {
        self.chain = chain
        self.options = options
        self.text = text
    }

    public var description: String { text }

    /// Parses the words after `-A`: the chain name, then options. `nil` when a value comes before any
    /// option or the chain name is missing.
    public init?(tokens: [IPTablesTokenizer.Token], text: String) {
        guard let first = tokens.first, !first.quoted else { return nil }
        var options: [Option] = []
        var negateNext = false
        var module: String?
        for token in tokens.dropFirst() {
            if !token.quoted, token.text == "!" {
                // iptables 1.8 prints `!` before the option it negates (`! -s …`, `! --dst-type …`).
                guard !negateNext else { return nil }
                negateNext = true
                continue
            }
            if !token.quoted, Self.isOptionName(token.text) {
                options.append(Option(name: token.text, negated: negateNext, module: module))
                negateNext = false
                continue
            }
            guard !options.isEmpty, !negateNext else { return nil }
            options[options.count - 1].values.append(token.text)
            if options[options.count - 1].name == "-m" || options[options.count - 1].name == "--match" {
                module = token.text
            }
        }
        if negateNext { return nil }
        self.init(chain: first.text, options: options, text: text)
    }

    private static func isOptionName(_ word: String) -> Bool {
        guard word.count >= 2, word.first == "-" else { return false }
        let second = word[word.index(after: word.startIndex)]
        return second == "-" || second.isLetter
    }

    /// The first option named any of `names`.
    public func option(_ names: String...) -> Option? {
        options.first { names.contains($0.name) }
    }

    /// The `-j` or `-g` target: a chain name or a built-in target (`DNAT`, `REJECT`, `KUBE-MARK-MASQ`).
    public var target: String? { option("-j", "--jump", "-g", "--goto")?.values.first }

    /// The `--comment` text; kube-proxy's service identity lives here.
    public var comment: String? { option("--comment")?.value }

    /// The `-p` protocol name as written (`tcp`, `udp`, `sctp`, or a number).
    public var protocolName: String? {
        guard let p = option("-p", "--protocol"), !p.negated else { return nil }
        return p.values.first
    }

    /// The `-p` protocol as an L4 protocol kube-proxy programs.
    public var l4Protocol: L4Protocol? {
        guard let name = protocolName else { return nil }
        if let p = L4Protocol(caseInsensitive: name) { return p }
        if let n = UInt8(name) { return L4Protocol(number: n) }
        return nil
    }

    /// The `--dport` value when it is one un-negated port.
    public var destinationPort: Int? {
        guard let o = option("--dport", "--destination-port"), !o.negated, o.values.count == 1,
            let port = Int(o.values[0]), (1...65535).contains(port)
        else { return nil }
        return port
    }

    /// `-d`, parsed.
    public var destination: IPTablesAddressMatch? { addressMatch("-d", "--destination", "--dst") }

    /// `-s`, parsed.
    public var source: IPTablesAddressMatch? { addressMatch("-s", "--source", "--src") }

    /// The DNAT `--to-destination` value as written (`10.244.1.7:8080`, `[fd00::7]:8080`).
    public var toDestination: String? { option("--to-destination")?.values.first }

    /// The `--dst-type` of an `addrtype` match, e.g. `LOCAL`, with its negation.
    public var destinationAddressType: (type: String, negated: Bool)? {
        guard let o = option("--dst-type"), let t = o.values.first else { return nil }
        return (t, o.negated)
    }

    private func addressMatch(_ names: String...) -> IPTablesAddressMatch? {
        guard let o = options.first(where: { names.contains($0.name) }), o.values.count == 1 else { return nil }
        guard var m = IPTablesAddressMatch(parsing: o.values[0]) else { return nil }
        m.negated = o.negated
        return m
    }
}
