import Foundation
import SettleKubeClient
import Testing

/// kubeconfig and in-cluster settings resolve to the configuration kubectl and client-go would use.
struct KubeConfigLoaderTests {
    /// A fresh temporary directory, removed by the caller.
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("settle-kubeconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    private func kubeconfig(clusters: String, users: String, contexts: String, current: String) -> String {
        "apiVersion: v1\nkind: Config\nclusters:\n\(clusters)users:\n\(users)contexts:\n\(contexts)current-context: \(current)\n"
    }

    private let twoContexts = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: lab
          cluster:
            server: http://127.0.0.1:8080
        - name: prod
          cluster:
            server: https://10.0.0.1:6443
            insecure-skip-tls-verify: true
            tls-server-name: kubernetes.default
        users:
        - name: alice
          user:
            token: alice-token
        - name: bob
          user:
            tokenFile: tokens/bob
        contexts:
        - name: lab
          context: {cluster: lab, user: alice, namespace: team-a}
        - name: prod
          context: {cluster: prod, user: bob}
        current-context: lab

        """

    /// The current context picks cluster and user; an explicit context overrides it.
    @Test("current-context selects server and bearer token; an explicit context overrides it")
    func contextSelection() throws {
        let lab = try KubeConfigLoader.kubeconfig(yaml: twoContexts, baseDirectory: "/cfg")
        #expect(lab.server == "http://127.0.0.1:8080")
        #expect(lab.credentials == .bearerToken("alice-token"))
        #expect(lab.namespace == "team-a")
        #expect(lab.tls == TLSSettings())

        let prod = try KubeConfigLoader.kubeconfig(yaml: twoContexts, baseDirectory: "/cfg", context: "prod")
        #expect(prod.server == "https://10.0.0.1:6443")
        #expect(prod.credentials == .bearerTokenFile(path: "/cfg/tokens/bob"))
        #expect(prod.tls.insecureSkipVerify)
        #expect(prod.tls.serverName == "kubernetes.default")

        #expect(throws: KubeClientError.self) { try KubeConfigLoader.kubeconfig(yaml: twoContexts, baseDirectory: "/", context: "nope") }
    }

    /// Certificate material inline as base64 `*-data` fields, and the TLS configuration builds from it.
    @Test("client certificate, key and CA as base64 data")
    func inlineData() async throws {
        let yaml = kubeconfig(
            clusters: "- name: c\n  cluster:\n    server: https://k8s.example:6443\n    certificate-authority-data: \(base64(TestCertificates.certificate))\n",
            users: "- name: u\n  user:\n    client-certificate-data: \(base64(TestCertificates.certificate))\n    client-key-data: \(base64(TestCertificates.key))\n",
            contexts: "- name: x\n  context: {cluster: c, user: u}\n", current: "x")
        let config = try KubeConfigLoader.kubeconfig(yaml: yaml, baseDirectory: "/")
        #expect(config.credentials == .none)
        #expect(config.tls.certificateAuthorityPEM == Array(TestCertificates.certificate.utf8))
        #expect(config.tls.clientCertificatePEM == Array(TestCertificates.certificate.utf8))
        #expect(config.tls.clientKeyPEM == Array(TestCertificates.key.utf8))
        let client = try KubeClient(configuration: config)
        try await client.shutdown()
    }

    /// Certificate material in files, relative paths resolved against the kubeconfig's directory.
    @Test("client certificate, key and CA as files relative to the kubeconfig")
    func files() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("pki"), withIntermediateDirectories: true)
        try TestCertificates.certificate.write(to: directory.appendingPathComponent("pki/ca.crt"), atomically: true, encoding: .utf8)
        try TestCertificates.certificate.write(to: directory.appendingPathComponent("pki/client.crt"), atomically: true, encoding: .utf8)
        try TestCertificates.key.write(to: directory.appendingPathComponent("pki/client.key"), atomically: true, encoding: .utf8)
        let yaml = kubeconfig(
            clusters: "- name: c\n  cluster:\n    server: https://k8s.example:6443\n    certificate-authority: pki/ca.crt\n",
            users: "- name: u\n  user:\n    client-certificate: pki/client.crt\n    client-key: \(directory.path)/pki/client.key\n",
            contexts: "- name: x\n  context: {cluster: c, user: u}\n", current: "x")
        let path = directory.appendingPathComponent("config")
        try yaml.write(to: path, atomically: true, encoding: .utf8)
        let config = try KubeConfigLoader.kubeconfig(paths: [path.path])
        #expect(config.tls.certificateAuthorityPEM == Array(TestCertificates.certificate.utf8))
        #expect(config.tls.clientCertificatePEM == Array(TestCertificates.certificate.utf8))
        #expect(config.tls.clientKeyPEM == Array(TestCertificates.key.utf8))
        let client = try KubeClient(configuration: config)
        try await client.shutdown()
    }

    /// Half a client identity, unreadable files and garbage PEM are configuration errors, not crashes.
    @Test("certificate without key, missing files and bad PEM are errors")
    func invalid() throws {
        let noKey = kubeconfig(
            clusters: "- name: c\n  cluster:\n    server: https://k\n",
            users: "- name: u\n  user:\n    client-certificate-data: \(base64(TestCertificates.certificate))\n",
            contexts: "- name: x\n  context: {cluster: c, user: u}\n", current: "x")
        #expect(throws: KubeClientError.self) { try KubeConfigLoader.kubeconfig(yaml: noKey, baseDirectory: "/") }
        let missingFile = kubeconfig(
            clusters: "- name: c\n  cluster:\n    server: https://k\n    certificate-authority: /nonexistent/ca.crt\n",
            users: "- name: u\n  user: {}\n", contexts: "- name: x\n  context: {cluster: c, user: u}\n", current: "x")
        #expect(throws: KubeClientError.self) { try KubeConfigLoader.kubeconfig(yaml: missingFile, baseDirectory: "/") }
        let badPEM = KubeClientConfiguration(server: "https://k", tls: TLSSettings(certificateAuthorityPEM: Array("not a cert".utf8)))
        #expect(throws: KubeClientError.self) { _ = try KubeClient(configuration: badPEM) }
    }

    /// In-cluster: service host/port from the environment, the token file (re-read per request), CA and namespace.
    @Test("in-cluster configuration from environment and service-account directory")
    func inCluster() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "sa-token".write(to: directory.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try TestCertificates.certificate.write(to: directory.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        try "kube-system\n".write(to: directory.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
        let env = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        let config = try KubeConfigLoader.inCluster(environment: env, serviceAccountDirectory: directory.path)
        #expect(config.server == "https://10.96.0.1:443")
        #expect(config.credentials == .bearerTokenFile(path: directory.appendingPathComponent("token").path))
        #expect(config.tls.certificateAuthorityPEM == Array(TestCertificates.certificate.utf8))
        #expect(config.namespace == "kube-system")
        let v6 = try KubeConfigLoader.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], serviceAccountDirectory: directory.path)
        #expect(v6.server == "https://[fd00::1]:443")
        #expect(throws: KubeClientError.self) { try KubeConfigLoader.inCluster(environment: [:], serviceAccountDirectory: directory.path) }
    }

    /// Precedence: explicit path, then KUBECONFIG (merged), then in-cluster, then ~/.kube/config.
    @Test("load picks KUBECONFIG (merged files), then in-cluster, then ~/.kube/config")
    func precedence() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("first")
        let second = directory.appendingPathComponent("second")
        try "apiVersion: v1\nkind: Config\ncurrent-context: two\nclusters: []\n".write(to: first, atomically: true, encoding: .utf8)
        try """
            apiVersion: v1
            kind: Config
            clusters: [{name: c2, cluster: {server: "http://127.0.0.2:8080"}}]
            users: [{name: u2, user: {token: two}}]
            contexts: [{name: two, context: {cluster: c2, user: u2}}]
            """.write(to: second, atomically: true, encoding: .utf8)
        let merged = try KubeConfigLoader.load(environment: ["KUBECONFIG": "\(first.path):\(second.path)", "KUBERNETES_SERVICE_HOST": "x"])
        #expect(merged.server == "http://127.0.0.2:8080")
        #expect(merged.credentials == .bearerToken("two"))

        let sa = directory.appendingPathComponent("sa")
        try FileManager.default.createDirectory(at: sa, withIntermediateDirectories: true)
        try "t".write(to: sa.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try TestCertificates.certificate.write(to: sa.appendingPathComponent("ca.crt"), atomically: true, encoding: .utf8)
        let cluster = try KubeConfigLoader.load(
            environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "6443"], homeDirectory: directory.path,
            serviceAccountDirectory: sa.path)
        #expect(cluster.server == "https://10.0.0.1:6443")

        try FileManager.default.createDirectory(at: directory.appendingPathComponent(".kube"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: second, to: directory.appendingPathComponent(".kube/config"))
        try FileManager.default.removeItem(at: second)
        try "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"http://h:1\"}}]\ncontexts: [{name: two, context: {cluster: c}}]\n"
            .write(to: second, atomically: true, encoding: .utf8)
        let home = try KubeConfigLoader.load(context: "two", environment: [:], homeDirectory: directory.path)
        #expect(home.server == "http://127.0.0.2:8080")
        let explicit = try KubeConfigLoader.load(explicitPath: second.path, context: "two", environment: [:])
        #expect(explicit.server == "http://h:1")
        #expect(explicit.credentials == .none)
    }
}
