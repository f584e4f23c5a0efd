/// TLS material as PEM bytes, gathered from kubeconfig or the service-account directory.
///
/// Kept as data (not NIOSSL objects) so configurations are plain values that tests can compare.
public struct TLSSettings: Hashable, Sendable {
    /// CA bundle trusted for the server; nil trusts the system roots.
    public var certificateAuthorityPEM: [UInt8]?
    /// Client certificate chain and key for mutual TLS.
    public var clientCertificatePEM: [UInt8]?
    /// The private key matching ``clientCertificatePEM``.
    public var clientKeyPEM: [UInt8]?
    /// `insecure-skip-tls-verify`: no server verification at all (lab clusters only).
    public var insecureSkipVerify: Bool
    /// Overrides the name checked against the server certificate (`tls-server-name`).
    public var serverName: String?

    /// System roots, no client identity, verification on, by default.
    public init(
        certificateAuthorityPEM: [UInt8]? = nil, clientCertificatePEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil,
        insecureSkipVerify: Bool = false, serverName: String? = nil
    ) {
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.insecureSkipVerify = insecureSkipVerify
        self.serverName = serverName
    }
}
