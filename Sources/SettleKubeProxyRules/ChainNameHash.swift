import Crypto

/// The one hash behind every kube-proxy chain name: standard base32 (RFC 4648, upper case) of
/// SHA-256, cut to a prefix. Mirrors `hashAndTruncate` (nftables) and `portProtoHash` /
/// `servicePortEndpointChainName` (iptables) in KK `pkg/proxy/{nftables,iptables}/proxier.go`.
enum ChainNameHash {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// The first `length` characters of `base32(sha256(text))`; `length` ≤ 48.
    static func base32SHA256(_ text: String, length: Int) -> String {
        let digest = Array(SHA256.hash(data: Array(text.utf8)))
        var out: [UInt8] = []
        out.reserveCapacity(length)
        var buffer: UInt64 = 0
        var bits = 0
        var index = 0
        while out.count < length {
            if bits < 5 {
                buffer = buffer << 8 | UInt64(digest[index])
                index += 1
                bits += 8
            }
            let value = Int((buffer >> UInt64(bits - 5)) & 0x1f)
            bits -= 5
            out.append(alphabet[value])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
