import Foundation
import Yams

/// Builds a ``KubeClientConfiguration`` from kubeconfig files or the in-cluster service account.
///
/// Every path and the environment are parameters, so tests load fixtures from temporary directories.
public enum KubeConfigLoader {
    /// The directory kubelet mounts the service-account token, CA and namespace into.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Picks the configuration the way an agent should: an explicit path, else `KUBECONFIG`, else in-cluster
    /// (when `KUBERNETES_SERVICE_HOST` is set), else `~/.kube/config`.
    ///
    /// In-cluster wins over `~/.kube/config` because a pod never means a stray home-directory file.
    public static func load(
        explicitPath: String? = nil, context: String? = nil, environment: [String: String],
        homeDirectory: String? = nil, serviceAccountDirectory: String = serviceAccountDirectory
    ) throws(KubeClientError) -> KubeClientConfiguration {
        if let explicitPath { return try kubeconfig(paths: [explicitPath], context: context) }
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            return try kubeconfig(paths: list.split(separator: ":").map(String.init), context: context)
        }
        if environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment, serviceAccountDirectory: serviceAccountDirectory)
        }
        guard let home = homeDirectory ?? environment["HOME"] else {
            throw .invalidConfiguration("no kubeconfig (KUBECONFIG, ~/.kube/config) and not running in a cluster")
        }
        return try kubeconfig(paths: ["\(home)/.kube/config"], context: context)
    }

    /// In-cluster settings: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the token file
    /// (re-read per request, so rotation is seen), the CA and the pod's namespace.
    public static func inCluster(
        environment: [String: String], serviceAccountDirectory: String = serviceAccountDirectory
    ) throws(KubeClientError) -> KubeClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw .invalidConfiguration("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set in a cluster")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let tokenPath = "\(serviceAccountDirectory)/token"
        guard FileManager.default.fileExists(atPath: tokenPath) else {
            throw .invalidConfiguration("service-account token \(tokenPath) is missing")
        }
        let ca = try readFile("\(serviceAccountDirectory)/ca.crt")
        let namespace = try? readFile("\(serviceAccountDirectory)/namespace")
        return KubeClientConfiguration(
            server: "https://\(hostPart):\(port)", credentials: .bearerTokenFile(path: tokenPath),
            tls: TLSSettings(certificateAuthorityPEM: ca),
            namespace: namespace.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) })
    }

    /// Loads and merges kubeconfig files (first definition of a name wins, as in kubectl) and resolves a context:
    /// `context` if given, else `current-context`. Relative file paths are relative to the file naming them.
    public static func kubeconfig(paths: [String], context: String? = nil) throws(KubeClientError) -> KubeClientConfiguration {
        var merged = KubeConfigFile(clusters: nil, users: nil, contexts: nil, currentContext: nil)
        var clusterBase: [String: String] = [:], userBase: [String: String] = [:]
        var loadedAny = false
        for path in paths where FileManager.default.fileExists(atPath: path) {
            let text = String(decoding: try readFile(path), as: UTF8.self)
            let file: KubeConfigFile
            do {
                file = try YAMLDecoder().decode(KubeConfigFile.self, from: text)
            } catch {
                throw .invalidConfiguration("kubeconfig \(path): \(error)")
            }
            loadedAny = true
            let base = (path as NSString).deletingLastPathComponent
            for cluster in file.clusters ?? [] where clusterBase[cluster.name] == nil {
                clusterBase[cluster.name] = base
                merged.clusters = (merged.clusters ?? []) + [cluster]
            }
            for user in file.users ?? [] where userBase[user.name] == nil {
                userBase[user.name] = base
                merged.users = (merged.users ?? []) + [user]
            }
            for namedContext in file.contexts ?? [] {
                let known = merged.contexts ?? []
                if !known.contains(where: { $0.name == namedContext.name }) { merged.contexts = known + [namedContext] }
            }
            if merged.currentContext == nil || merged.currentContext == "" { merged.currentContext = file.currentContext }
        }
        guard loadedAny else { throw .invalidConfiguration("no kubeconfig found at \(paths.joined(separator: ":"))") }
        return try resolve(merged, context: context, clusterBase: clusterBase, userBase: userBase)
    }

    /// Parses one kubeconfig document given as text; relative paths resolve against `baseDirectory`.
    public static func kubeconfig(yaml: String, baseDirectory: String, context: String? = nil) throws(KubeClientError)
        -> KubeClientConfiguration
    {
        let file: KubeConfigFile
        do {
            file = try YAMLDecoder().decode(KubeConfigFile.self, from: yaml)
        } catch {
            throw .invalidConfiguration("kubeconfig: \(error)")
        }
        let clusterBase = Dictionary((file.clusters ?? []).map { ($0.name, baseDirectory) }, uniquingKeysWith: { a, _ in a })
        let userBase = Dictionary((file.users ?? []).map { ($0.name, baseDirectory) }, uniquingKeysWith: { a, _ in a })
        return try resolve(file, context: context, clusterBase: clusterBase, userBase: userBase)
    }

    private static func resolve(
        _ file: KubeConfigFile, context requested: String?, clusterBase: [String: String], userBase: [String: String]
    ) throws(KubeClientError) -> KubeClientConfiguration {
        guard let contextName = requested ?? file.currentContext, !contextName.isEmpty else {
            throw .invalidConfiguration("kubeconfig has no current-context and none was given")
        }
        guard let context = file.contexts?.first(where: { $0.name == contextName })?.context else {
            throw .invalidConfiguration("context \"\(contextName)\" not found in kubeconfig")
        }
        guard let clusterName = context.cluster, let cluster = file.clusters?.first(where: { $0.name == clusterName })?.cluster,
            let server = cluster.server
        else {
            throw .invalidConfiguration("cluster \"\(context.cluster ?? "")\" of context \"\(contextName)\" not found or has no server")
        }
        let user = context.user.flatMap { name in file.users?.first(where: { $0.name == name })?.user }
        let clusterDir = clusterBase[clusterName] ?? "."
        let userDir = context.user.flatMap { userBase[$0] } ?? "."

        var tls = TLSSettings(insecureSkipVerify: cluster.insecureSkipTLSVerify ?? false, serverName: cluster.tlsServerName)
        tls.certificateAuthorityPEM = try material(data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, base: clusterDir, what: "certificate-authority")
        tls.clientCertificatePEM = try material(data: user?.clientCertificateData, file: user?.clientCertificate, base: userDir, what: "client-certificate")
        tls.clientKeyPEM = try material(data: user?.clientKeyData, file: user?.clientKey, base: userDir, what: "client-key")
        if (tls.clientCertificatePEM == nil) != (tls.clientKeyPEM == nil) {
            throw .invalidConfiguration("user of context \"\(contextName)\" has a client certificate without a key, or a key without a certificate")
        }

        var credentials = KubeCredentials.none
        if let token = user?.token, !token.isEmpty {
            credentials = .bearerToken(token)
        } else if let tokenFile = user?.tokenFile, !tokenFile.isEmpty {
            credentials = .bearerTokenFile(path: absolute(tokenFile, base: userDir))
        }
        return KubeClientConfiguration(server: server, credentials: credentials, tls: tls, namespace: context.namespace)
    }

    /// `*-data` (base64) wins over the file path, as in kubectl.
    private static func material(data: String?, file: String?, base: String, what: String) throws(KubeClientError) -> [UInt8]? {
        if let data, !data.isEmpty {
            guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                throw .invalidConfiguration("\(what)-data is not valid base64")
            }
            return Array(decoded)
        }
        if let file, !file.isEmpty { return try readFile(absolute(file, base: base)) }
        return nil
    }

    private static func absolute(_ path: String, base: String) -> String {
        path.hasPrefix("/") ? path : "\(base)/\(path)"
    }

    static func readFile(_ path: String) throws(KubeClientError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalidConfiguration("cannot read \(path)")
        }
        return Array(data)
    }
}
