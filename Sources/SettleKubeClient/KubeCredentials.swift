/// How the client proves who it is.
///
/// A token file is re-read for every request, so a rotated service-account token (kubelet rewrites it
/// about hourly) is picked up without a restart; the last good token is kept if a read fails mid-rotation.
public enum KubeCredentials: Hashable, Sendable {
    case none
    case bearerToken(String)
    case bearerTokenFile(path: String)
}
