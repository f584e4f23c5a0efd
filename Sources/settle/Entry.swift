import SettleApp

@main
struct Entry {
    static func main() async {
        await SettleEntry.main()
    }
}
