import SettleAgent
import Testing

@Suite struct AgentSmokeTests {
    @Test func defaultPort() { #expect(SettleAgent.defaultPort == 9467) }
}
