import Foundation
import SettleDataplane
import SettleModel
import Testing

/// libnftables' JSON, captured from `nft -j list table` on real kube-proxy-shaped rulesets.
struct NFTablesJSONDecoderTests {
    static func fixture(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/nftables/\(name).json")
        return try Data(contentsOf: url)
    }

    @Test("decodes the 1.36 inline-map layout of both families into routed service ports")
    func inlineMaps() throws {
        let ruleset = try NFTablesJSONDecoder.decode([Self.fixture("gen-b-ip"), Self.fixture("gen-b-ip6")])
        #expect(ruleset.tables.map(\.family) == [.ip, .ip6])
        let snapshot = ruleset.kubeProxySnapshot()
        #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
        let web = try #require(snapshot.servicePorts.first { $0.name?.description == "shop/web:http" })
        #expect(Set(web.endpoints.map(\.description)) == ["10.244.1.7:8080", "10.244.1.10:8080", "10.244.2.9:8080", "[fd00:10::7]:8080", "[fd00:10::a]:8080"])
        #expect(web.frontends.contains(Frontend(kind: .loadBalancer, ip: IPAddress("198.51.100.7"), port: 80)))
        let none = try #require(snapshot.servicePorts.first { $0.name?.description == "empty/none:https" })
        #expect(none.endpoints.isEmpty)
    }

    @Test("keeps element comments of the no-endpoint maps and the goto verdicts of per-endpoint vmaps")
    func endpointChains() throws {
        let table = try #require(NFTablesJSONDecoder.decode([Self.fixture("gen-a-ip")]).tables.first)
        #expect(table.sets["no-endpoint-services"]?.elements?.first?.comment == "ns4/svc4:p80")
        let dispatch = table.chains["service-ULMVA6XW-ns1/svc1/tcp/p80"]?.rules.last?.statements
        guard case .vmap(.numgen(2, 0), .anonymous(let elements))? = dispatch?.first else {
            Issue.record("no numgen vmap in \(String(describing: dispatch))")
            return
        }
        #expect(elements.compactMap { if case .verdict(let v)? = $0.value { v.target } else { nil } }.count == 2)
        #expect(table.chains["endpoint-BBBBBBBB-ns1/svc1/tcp/p80__10.180.0.3/80"]?.rules == [])
    }

    @Test("malformed JSON is an error, not a crash")
    func malformed() {
        #expect(throws: DataplaneError.self) { try NFTablesJSONDecoder.decode([Data("{\"nftables\": [".utf8)]) }
    }
}
