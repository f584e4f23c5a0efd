/// What `kubectl get services,endpointslices,nodes -A -o yaml` prints for a small cluster (written by
/// hand after real output, with the fields Settle ignores: managedFields, status of nodes, …).
enum KubectlFixture {
    static let yaml = """
        apiVersion: v1
        items:
        - apiVersion: v1
          kind: Service
          metadata:
            creationTimestamp: "2025-01-10T09:12:44Z"
            labels:
              component: apiserver
              provider: kubernetes
            name: kubernetes
            namespace: default
            resourceVersion: "234"
            uid: 3c1b7a2e-5f0e-4d6a-9f43-8f1e2b6a7c01
          spec:
            clusterIP: 10.96.0.1
            clusterIPs:
            - 10.96.0.1
            internalTrafficPolicy: Cluster
            ipFamilies:
            - IPv4
            ipFamilyPolicy: SingleStack
            ports:
            - name: https
              port: 443
              protocol: TCP
              targetPort: 6443
            sessionAffinity: None
            type: ClusterIP
          status:
            loadBalancer: {}
        - apiVersion: v1
          kind: Service
          metadata:
            annotations:
              kubectl.kubernetes.io/last-applied-configuration: |
                {"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"name":"web","namespace":"shop"},"spec":{"ports":[{"name":"http","port":80,"targetPort":"http"}],"selector":{"app":"web"},"type":"LoadBalancer"}}
            creationTimestamp: "2025-01-11T14:02:19Z"
            labels:
              app: web
            managedFields:
            - apiVersion: v1
              fieldsType: FieldsV1
              fieldsV1:
                f:spec:
                  f:ports:
                    .: {}
                    k:{"port":80,"protocol":"TCP"}:
                      .: {}
                      f:name: {}
              manager: kubectl-client-side-apply
              operation: Update
              time: "2025-01-11T14:02:19Z"
            name: web
            namespace: shop
            resourceVersion: "88123"
            uid: 6f7d0c55-0a4f-4a1e-8f8e-1b2c3d4e5f60
          spec:
            allocateLoadBalancerNodePorts: true
            clusterIP: 10.96.120.7
            clusterIPs:
            - 10.96.120.7
            externalTrafficPolicy: Local
            healthCheckNodePort: 31877
            internalTrafficPolicy: Cluster
            ipFamilies:
            - IPv4
            ipFamilyPolicy: SingleStack
            ports:
            - name: http
              nodePort: 30080
              port: 80
              protocol: TCP
              targetPort: http
            selector:
              app: web
            sessionAffinity: ClientIP
            sessionAffinityConfig:
              clientIP:
                timeoutSeconds: 10800
            type: LoadBalancer
          status:
            loadBalancer:
              ingress:
              - ip: 203.0.113.10
                ipMode: VIP
              - hostname: web.example.net
        - apiVersion: v1
          kind: Service
          metadata:
            creationTimestamp: "2025-01-11T14:05:00Z"
            name: db
            namespace: shop
            resourceVersion: "88200"
            uid: 0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5
          spec:
            clusterIP: None
            clusterIPs:
            - None
            ports:
            - port: 5432
              protocol: TCP
              targetPort: 5432
            selector:
              app: db
            type: ClusterIP
          status:
            loadBalancer: {}
        - addressType: IPv4
          apiVersion: discovery.k8s.io/v1
          endpoints:
          - addresses:
            - 172.18.0.2
            conditions:
              ready: true
          kind: EndpointSlice
          metadata:
            creationTimestamp: "2025-01-10T09:12:45Z"
            generation: 1
            labels:
              endpointslice.kubernetes.io/skip-mirror: "true"
              kubernetes.io/service-name: kubernetes
            name: kubernetes
            namespace: default
            resourceVersion: "236"
            uid: 9a8b7c6d-1111-2222-3333-444455556666
          ports:
          - name: https
            port: 6443
            protocol: TCP
        - addressType: IPv4
          apiVersion: discovery.k8s.io/v1
          endpoints:
          - addresses:
            - 10.244.1.5
            conditions:
              ready: true
              serving: true
              terminating: false
            nodeName: worker-a
            targetRef:
              kind: Pod
              name: web-6d4cf56db6-8xk2p
              namespace: shop
              uid: 11111111-aaaa-bbbb-cccc-000000000001
            zone: zone-a
          - addresses:
            - 10.244.2.9
            conditions:
              ready: false
              serving: true
              terminating: true
            nodeName: worker-b
            targetRef:
              kind: Pod
              name: web-6d4cf56db6-q7w4z
              namespace: shop
              uid: 11111111-aaaa-bbbb-cccc-000000000002
            zone: zone-b
          kind: EndpointSlice
          metadata:
            annotations:
              endpoints.kubernetes.io/last-change-trigger-time: "2025-01-12T08:30:01Z"
            creationTimestamp: "2025-01-11T14:02:19Z"
            generateName: web-
            generation: 7
            labels:
              app: web
              endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
              kubernetes.io/service-name: web
            managedFields:
            - apiVersion: discovery.k8s.io/v1
              fieldsType: FieldsV1
              fieldsV1:
                f:addressType: {}
                f:endpoints: {}
              manager: kube-controller-manager
              operation: Update
              time: "2025-01-12T08:30:01Z"
            name: web-x7k2q
            namespace: shop
            ownerReferences:
            - apiVersion: v1
              blockOwnerDeletion: true
              controller: true
              kind: Service
              name: web
              uid: 6f7d0c55-0a4f-4a1e-8f8e-1b2c3d4e5f60
            resourceVersion: "90412"
            uid: 2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091
          ports:
          - name: http
            port: 8080
            protocol: TCP
        - addressType: IPv4
          apiVersion: discovery.k8s.io/v1
          endpoints: null
          kind: EndpointSlice
          metadata:
            creationTimestamp: "2025-01-11T14:05:00Z"
            generation: 1
            labels:
              endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
              kubernetes.io/service-name: db
              service.kubernetes.io/headless: ""
            name: db-9hd2k
            namespace: shop
            resourceVersion: "88201"
            uid: 5e6f7081-92a3-4b4c-8d5e-6f708192a3b4
          ports: null
        - apiVersion: v1
          kind: Node
          metadata:
            annotations:
              node.alpha.kubernetes.io/ttl: "0"
              volumes.kubernetes.io/controller-managed-attach-detach: "true"
            creationTimestamp: "2025-01-10T09:11:02Z"
            labels:
              beta.kubernetes.io/arch: amd64
              beta.kubernetes.io/os: linux
              kubernetes.io/arch: amd64
              kubernetes.io/hostname: worker-a
              kubernetes.io/os: linux
              topology.kubernetes.io/zone: zone-a
            name: worker-a
            resourceVersion: "90001"
            uid: 7a6b5c4d-3e2f-4102-a3b4-c5d6e7f80912
          spec:
            podCIDR: 10.244.1.0/24
            podCIDRs:
            - 10.244.1.0/24
            taints:
            - effect: NoSchedule
              key: node.kubernetes.io/disk-pressure
              timeAdded: "2025-01-12T07:00:00Z"
          status:
            addresses:
            - address: 172.18.0.3
              type: InternalIP
            - address: worker-a
              type: Hostname
            allocatable:
              cpu: "8"
              memory: 32746000Ki
              pods: "110"
            capacity:
              cpu: "8"
              memory: 32848400Ki
              pods: "110"
            conditions:
            - lastHeartbeatTime: "2025-01-12T08:29:40Z"
              lastTransitionTime: "2025-01-10T09:11:30Z"
              message: kubelet is posting ready status
              reason: KubeletReady
              status: "True"
              type: Ready
            daemonEndpoints:
              kubeletEndpoint:
                Port: 10250
            images:
            - names:
              - registry.k8s.io/kube-proxy:v1.34.1
              sizeBytes: 30170000
            nodeInfo:
              architecture: amd64
              kubeProxyVersion: ""
              kubeletVersion: v1.34.1
              operatingSystem: linux
        kind: List
        metadata:
          resourceVersion: ""

        """
}
