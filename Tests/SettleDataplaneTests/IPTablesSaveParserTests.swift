import SettleDataplane
import SettleModel
import Testing

struct IPTablesSaveParserTests: IPTablesTestHelpers {
    private func words(_ line: String) -> [String]? { IPTablesTokenizer.tokenize(line)?.map(\.text) }

    /// Double quotes group words, and backslash escapes inside quotes are resolved as iptables-restore does.
    @Test func tokenizerHandlesQuotesAndEscapes() {
        #expect(words(#"-A X -m comment --comment "ns/a:p cluster IP" -j Y"#) == [
            "-A", "X", "-m", "comment", "--comment", "ns/a:p cluster IP", "-j", "Y",
        ])
        #expect(words(#"--comment "say \"hi\" \\ there""#) == ["--comment", #"say "hi" \ there"#])
        #expect(words("  -j\tDNAT   --to-destination [fd00::7]:8080  ") == ["-j", "DNAT", "--to-destination", "[fd00::7]:8080"])
        #expect(words(#"--comment """#) == ["--comment", ""])
    }

    /// A quote left open makes the line unreadable rather than silently swallowing the rest.
    @Test func tokenizerRejectsOpenQuote() {
        #expect(IPTablesTokenizer.tokenize(#"-A X --comment "open"#) == nil)
    }

    /// A quoted word is a value even when it looks like an option or a `!`.
    @Test func tokenizerMarksQuotedWords() throws {
        let tokens = try #require(IPTablesTokenizer.tokenize(#"--comment "-j" "!""#))
        #expect(tokens.map(\.quoted) == [false, true, true])
    }

    /// `!` negates the option after it; match options remember their `-m` module.
    @Test func ruleOptionsCarryNegationAndModule() throws {
        let line = #"-A KUBE-SVC-X ! -s 10.244.0.0/16 -d 172.30.9.9/32 -p tcp -m comment --comment "shop/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ"#
        let rule = try #require(IPTablesRule(tokens: Array(IPTablesTokenizer.tokenize(line)!.dropFirst()), text: line))
        #expect(rule.chain == "KUBE-SVC-X")
        #expect(rule.source == IPTablesAddressMatch(address: ip("10.244.0.0"), prefixLength: 16, negated: true))
        #expect(rule.destination?.singleAddress == ip("172.30.9.9"))
        #expect(rule.l4Protocol == .tcp)
        #expect(rule.comment == "shop/web:http cluster IP")
        #expect(rule.destinationPort == 80)
        #expect(rule.target == "KUBE-MARK-MASQ")
        #expect(rule.option("--dport")?.module == "tcp")
        #expect(rule.option("--comment")?.module == "comment")
    }

    /// `! --dst-type LOCAL` inside an addrtype match is read as a negated option.
    @Test func negatedMatchOption() throws {
        let line = "-A KUBE-SERVICES -m addrtype ! --dst-type LOCAL -j KUBE-NODEPORTS"
        let rule = try #require(IPTablesRule(tokens: Array(IPTablesTokenizer.tokenize(line)!.dropFirst()), text: line))
        #expect(rule.destinationAddressType?.type == "LOCAL")
        #expect(rule.destinationAddressType?.negated == true)
    }

    /// `!` binds to the option after it, also after a flag without values (`--reap ! -s …`); `! !` is refused.
    @Test func negationBindsForward() throws {
        let line = "-A X -m recent --rcheck --reap ! -s 10.0.0.0/8 -j Y"
        let rule = try #require(IPTablesRule(tokens: Array(IPTablesTokenizer.tokenize(line)!.dropFirst()), text: line))
        #expect(rule.option("--reap")?.negated == false)
        #expect(rule.source?.negated == true)
        let twice = "-A X ! ! -s 10.0.0.0/8 -j Y"
        #expect(IPTablesRule(tokens: Array(IPTablesTokenizer.tokenize(twice)!.dropFirst()), text: twice) == nil)
    }

    /// Tables, chain declarations in order, policies and rules are read; comments and COMMIT are structure.
    @Test func parsesTablesChainsAndRules() throws {
        let save = IPTablesSave(parsing: try IPTablesFixtures.text("cluster-v4.txt"))
        #expect(save.warnings.isEmpty)
        #expect(Set(save.tables.keys) == ["nat", "filter"])
        let nat = try #require(save[table: "nat"])
        #expect(nat.chains.prefix(5) == ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING", "KUBE-EXT-F3GRYTE7HT6BGIBF"])
        #expect(nat.policies["PREROUTING"] == "ACCEPT")
        #expect(nat.policies["KUBE-SERVICES"] == "-")
        #expect(nat.rules(of: "KUBE-SERVICES").count == 11)
        #expect(nat.rules(of: "KUBE-PROXY-CANARY").isEmpty)
        #expect(nat.hasChain("KUBE-PROXY-CANARY"))
        #expect(save.containsChain("KUBE-SERVICES"))
        #expect(!save.containsChain("KUBE-IPTABLES-HINT"))
    }

    /// Lines that are not iptables-save syntax are skipped with a warning naming the line; the rest is kept.
    @Test func malformedLinesAreWarnedAndSkipped() throws {
        let save = IPTablesSave(parsing: """
            -A OUTSIDE -j ACCEPT
            *nat
            :KUBE-SERVICES - [0:0]
            -A KUBE-SERVICES -m comment --comment "unterminated -j KUBE-SVC-X
            garbage here
            -A KUBE-SERVICES -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-Y
            COMMIT
            """)
        #expect(save.warnings.count == 3)
        #expect(save.warnings[0].contains("line 1"))
        #expect(save.warnings[1].contains("line 4"))
        #expect(save.warnings[2].contains("garbage here"))
        #expect(save[table: "nat"]?.rules(of: "KUBE-SERVICES").map(\.target) == ["KUBE-SVC-Y"])
    }

    /// Two dumps of the same table (nat read twice, say) merge into one table.
    @Test func concatenatedDumpsMerge() {
        let save = IPTablesSave(parsing: """
            *nat
            :A - [0:0]
            -A A -j RETURN
            COMMIT
            *nat
            :B - [0:0]
            -A B -j RETURN
            COMMIT
            """)
        #expect(save[table: "nat"]?.chains == ["A", "B"])
    }

    /// DNAT targets: IPv4 `ip:port`, IPv6 `[ip]:port`; ranges and a missing port are refused.
    @Test func toDestinationParsing() {
        #expect(IPTablesWalker.endpoint(fromToDestination: "10.244.1.7:8080") == ep("10.244.1.7:8080"))
        #expect(IPTablesWalker.endpoint(fromToDestination: "[fd00:10:244:1::7]:8080") == ep("[fd00:10:244:1::7]:8080"))
        #expect(IPTablesWalker.endpoint(fromToDestination: "10.244.1.7") == nil)
        #expect(IPTablesWalker.endpoint(fromToDestination: "10.244.1.7-10.244.1.9:80") == nil)
        #expect(IPTablesWalker.endpoint(fromToDestination: "fd00::7") == nil)
        #expect(IPTablesWalker.endpoint(fromToDestination: "[fd00::7]") == nil)
        #expect(IPTablesWalker.endpoint(fromToDestination: "10.0.0.1:0") == nil)
    }

    /// kube-proxy's service comments, named and unnamed ports.
    @Test func serviceComments() {
        let web = ServicePortName(namespace: "shop", name: "web", port: "http")
        let plain = ServicePortName(namespace: "default", name: "plain", port: "")
        #expect(IPTablesServiceComment("shop/web:http cluster IP") == .frontend(web, .clusterIP))
        #expect(IPTablesServiceComment("shop/web:http external IP") == .frontend(web, .externalIP))
        #expect(IPTablesServiceComment("shop/web:http loadbalancer IP") == .frontend(web, .loadBalancer))
        #expect(IPTablesServiceComment("default/plain cluster IP") == .frontend(plain, .clusterIP))
        #expect(IPTablesServiceComment("shop/web:http has no endpoints") == .noEndpoints(web, localOnly: false))
        #expect(IPTablesServiceComment("shop/web:http has no local endpoints") == .noEndpoints(web, localOnly: true))
        #expect(IPTablesServiceComment("shop/web:http") == .servicePort(web))
        #expect(IPTablesServiceComment("default/plain") == .servicePort(plain))
        #expect(IPTablesServiceComment("kubernetes service portals") == nil)
        #expect(IPTablesServiceComment("shop/web:http -> 10.244.1.7:8080") == nil)
    }
}
