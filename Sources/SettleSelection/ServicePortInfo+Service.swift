public import SettleKube
public import SettleModel

extension ServicePortInfo {
    /// The service ports kube-proxy's proxier for `family` builds from `service`; empty when it skips
    /// the Service for that family.
    ///
    /// Mirrors `ServiceChangeTracker.serviceToServiceMap` and `newBaseServiceInfo`
    /// (KK `pkg/proxy/servicechangetracker.go`, `pkg/proxy/serviceport.go`), with
    /// `ShouldSkipService` and `GetClusterIPByFamily` (KK `pkg/proxy/util/utils.go`):
    /// - headless (`clusterIP` empty or `None`) and `ExternalName` Services are skipped;
    /// - the family needs a ClusterIP of that family (`ipFamilies[i]` ↔ `clusterIPs[i]`; without
    ///   `ipFamilies`, the family of `clusterIP`);
    /// - external IPs are those of the family (whitespace trimmed, unparseable dropped);
    /// - LoadBalancer ingress IPs count only without `ipMode` or with `ipMode: VIP`; hostname-only
    ///   entries are ignored;
    /// - a missing `type` is read as `ClusterIP` and a missing protocol as TCP (the API defaults).
    /// This does not apply kube-proxy's label selector; see ``ProxyLabelSelector``.
    public static func servicePorts(of service: V1Service, family: IPAddress.Family) -> [ServicePortInfo] {
        let spec = service.spec
        guard let namespace = service.metadata.namespace, let name = service.metadata.name else { return [] }
        if Self.shouldSkip(service) { return [] }
        guard let clusterIPText = Self.clusterIP(of: service, family: family),
            let clusterIP = IPAddress(clusterIPText.trimmingSpaces), clusterIP.family == family
        else { return [] }

        let type = spec.type ?? .clusterIP
        let externallyAccessibleByType =
            type == .loadBalancer || type == .nodePort || (type == .clusterIP && !(spec.externalIPs ?? []).isEmpty)
        let externalPolicyLocal = externallyAccessibleByType && spec.externalTrafficPolicy == .local
        let internalPolicyLocal = spec.internalTrafficPolicy == .local

        let externalIPs = (spec.externalIPs ?? []).compactMap { IPAddress($0.trimmingSpaces) }.filter {
            $0.family == family
        }
        var vips: [IPAddress] = []
        for ingress in service.status?.loadBalancer?.ingress ?? [] {
            guard let ipText = ingress.ip, !ipText.isEmpty else { continue }
            if let mode = ingress.ipMode, mode != "VIP" { continue }
            if let ip = IPAddress(ipText), ip.family == family { vips.append(ip) }
        }

        return (spec.ports ?? []).map { port in
            ServicePortInfo(
                name: ServicePortName(namespace: namespace, name: name, port: port.name ?? ""),
                protocol: port.resolvedProtocol, family: family, clusterIP: clusterIP, port: port.port,
                nodePort: port.nodePort ?? 0, externalIPs: externalIPs, loadBalancerVIPs: vips,
                internalPolicyLocal: internalPolicyLocal, externalPolicyLocal: externalPolicyLocal)
        }
    }

    /// Upstream `ShouldSkipService`: headless (ClusterIP unset or `None`) or `ExternalName`.
    public static func shouldSkip(_ service: V1Service) -> Bool {
        let clusterIP = service.spec.clusterIP ?? ""
        if clusterIP.isEmpty || clusterIP == "None" { return true }
        return service.spec.type == .externalName
    }

    /// Upstream `GetClusterIPByFamily`: the ClusterIP of `family`, or `nil`.
    public static func clusterIP(of service: V1Service, family: IPAddress.Family) -> String? {
        let spec = service.spec
        let families = spec.ipFamilies ?? []
        if families.isEmpty {
            guard let clusterIP = spec.clusterIP, !clusterIP.isEmpty, clusterIP != "None" else { return nil }
            return (clusterIP.contains(":") == (family == .ipv6)) ? clusterIP : nil
        }
        let clusterIPs = spec.clusterIPs ?? []
        for (index, name) in families.enumerated() where name == family.rawValue {
            if index < clusterIPs.count { return clusterIPs[index] }
        }
        return nil
    }
}

extension String {
    /// Strips ASCII spaces, tabs and newlines at both ends (Go's `strings.TrimSpace` for our inputs).
    var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[first...last]
    }
}
