#!/usr/bin/env python3
"""Drives the stand-in API server with the official Kubernetes Python client.

Usage: list_watch.py SERVER_URL
Prints one JSON object summarising what the client saw; the Swift test asserts on it.
"""
import json
import sys

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

KUBE_PROXY_SELECTOR = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"


def main():
    configuration = client.Configuration()
    configuration.host = sys.argv[1]
    api_client = client.ApiClient(configuration)
    core = client.CoreV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    out = {}

    services = core.list_service_for_all_namespaces(label_selector=KUBE_PROXY_SELECTOR)
    out["services"] = sorted(f"{s.metadata.namespace}/{s.metadata.name}" for s in services.items)
    out["serviceClusterIPs"] = sorted(s.spec.cluster_ip for s in services.items)

    slices = discovery.list_endpoint_slice_for_all_namespaces()
    out["slices"] = sorted(f"{s.metadata.namespace}/{s.metadata.name}" for s in slices.items)
    out["sliceAddresses"] = sorted(a for s in slices.items for e in s.endpoints for a in e.addresses)
    list_rv = slices.metadata.resource_version

    # Writes through the client: POST, GET + PUT (with resourceVersion), DELETE.
    body = client.V1EndpointSlice(
        metadata=client.V1ObjectMeta(name="py-slice", namespace="default",
                                     labels={"kubernetes.io/service-name": "web"}),
        address_type="IPv4",
        endpoints=[client.V1Endpoint(addresses=["10.244.9.9"], conditions=client.V1EndpointConditions(ready=True))],
        ports=[client.DiscoveryV1EndpointPort(name="http", port=8080, protocol="TCP")],
    )
    created = discovery.create_namespaced_endpoint_slice("default", body)
    out["createdGeneration"] = created.metadata.generation
    current = discovery.read_namespaced_endpoint_slice("py-slice", "default")
    current.endpoints[0].conditions.ready = False
    replaced = discovery.replace_namespaced_endpoint_slice("py-slice", "default", current)
    out["replacedGeneration"] = replaced.metadata.generation
    discovery.delete_namespaced_endpoint_slice("py-slice", "default")

    # Watch from the list's RV; the server ends the watch after timeout_seconds.
    events = []
    bookmarks = 0
    w = watch.Watch()
    for event in w.stream(discovery.list_endpoint_slice_for_all_namespaces, resource_version=list_rv,
                          allow_watch_bookmarks=True, timeout_seconds=2):
        if event["type"] == "BOOKMARK":
            bookmarks += 1
            continue
        obj = event["object"]
        ready = obj.endpoints[0].conditions.ready if obj.endpoints else None
        events.append(f"{event['type']} {obj.metadata.namespace}/{obj.metadata.name} ready={ready}")
    out["watchEvents"] = events
    out["bookmarks"] = bookmarks
    out["resumeResourceVersion"] = w.resource_version

    # Watching from an expired resourceVersion must fail with 410.
    try:
        for _ in watch.Watch().stream(core.list_service_for_all_namespaces, resource_version="1", timeout_seconds=2):
            pass
        out["expiredWatch"] = "no error"
    except ApiException as error:
        out["expiredWatch"] = error.status

    print(json.dumps(out))


if __name__ == "__main__":
    main()
