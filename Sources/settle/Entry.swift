import SettleApp

@main
struct Entry {
    static func main() async {
        // `settle …`, or `kubectl settle …` when run as `kubectl-settle`.
        await SettleLauncher.main()
    }
}
