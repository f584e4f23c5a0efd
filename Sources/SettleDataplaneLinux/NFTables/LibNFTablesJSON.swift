#if os(Linux)
import CNFTables
import Foundation
import SettleDataplane

/// Runs `nft -j` commands through libnftables and returns their JSON output.
///
/// Not `Sendable`: an `nft_ctx` is not thread-safe, and it opens its netlink socket in the
/// namespace of the thread that uses it, so it lives and dies on one ``NetworkNamespace`` thread.
final class LibNFTablesJSON {
    private let context: OpaquePointer

    init() throws(DataplaneError) {
        guard let context = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw .unsupported("libnftables could not create a context")
        }
        self.context = context
        nft_ctx_output_set_flags(context, UInt32(NFT_CTX_OUTPUT_JSON))
        _ = nft_ctx_buffer_output(context)
        _ = nft_ctx_buffer_error(context)
    }

    deinit { nft_ctx_free(context) }

    /// Runs one command (`list table ip kube-proxy`) and returns its JSON document.
    func run(_ command: String) throws(DataplaneError) -> Data {
        let status = nft_run_cmd_from_buffer(context, command)
        let output = nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
        let errorText = nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? ""
        guard status == 0 else {
            let message = errorText.trimmingCharacters(in: .whitespacesAndNewlines)
            if message.contains("Operation not permitted") { throw .permissionDenied("nftables (libnftables)") }
            throw .toolFailed(tool: "libnftables \(command)", status: status, stderr: message)
        }
        return Data(output.utf8)
    }
}
#endif
