"""Object machinery through a real server: generateName, finalizers, graceful pod deletion,
binding, eviction, status, services, discovery, metrics, restart, client certificates."""

from __future__ import annotations

import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

from kubelite.apiserver.discovery import AGGREGATED_V2
from kubelite.testing.server import KubeliteServer

NS = "/api/v1/namespaces/default"


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}


def ok(result: tuple[int, Any], code: int = 200) -> Any:
    status, body = result
    assert status == code, body
    return body


def test_generate_name(server: KubeliteServer) -> None:
    a = ok(server.request("POST", f"{NS}/configmaps", {"metadata": {"generateName": "gen-"}}), 201)
    b = ok(server.request("POST", f"{NS}/configmaps", {"metadata": {"generateName": "gen-"}}), 201)
    assert a["metadata"]["name"].startswith("gen-") and a["metadata"]["name"] != b["metadata"]["name"]
    # five characters from Kubernetes' suffix alphabet (no vowels, no 0/1/3), as `kubectl get pods` users know them
    for name in (a["metadata"]["name"], b["metadata"]["name"]):
        suffix = name.removeprefix("gen-")
        assert len(suffix) == 5 and set(suffix) <= set("bcdfghjklmnpqrstvwxz2456789"), name


def test_server_sets_identity_fields(server: KubeliteServer) -> None:
    obj = ok(server.request("POST", f"{NS}/configmaps", {"metadata": {"name": "ident", "uid": "mine"}}), 201)
    meta = obj["metadata"]
    assert meta["uid"] != "mine" and meta["creationTimestamp"].endswith("Z") and meta["resourceVersion"].isdigit()
    again = ok(server.request("PUT", f"{NS}/configmaps/ident", {**obj, "data": {"a": "b"}}))
    assert int(again["metadata"]["resourceVersion"]) > int(meta["resourceVersion"])
    assert again["metadata"]["uid"] == meta["uid"]


def test_finalizers_hold_deletion_until_removed(server: KubeliteServer) -> None:
    ok(server.request("POST", f"{NS}/configmaps", {"metadata": {"name": "fin", "finalizers": ["example.com/x"]}}), 201)
    held = ok(server.request("DELETE", f"{NS}/configmaps/fin"))
    assert held["metadata"]["deletionTimestamp"]
    assert ok(server.request("GET", f"{NS}/configmaps/fin"))["metadata"]["finalizers"] == ["example.com/x"]
    ok(server.request("PATCH", f"{NS}/configmaps/fin", {"metadata": {"finalizers": None}},
                      "application/merge-patch+json"))
    assert server.request("GET", f"{NS}/configmaps/fin")[0] == 404


def test_pod_binding_graceful_delete_and_node_finish(server: KubeliteServer) -> None:
    ok(server.request("POST", f"{NS}/pods", pod("bound")), 201)
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
               "target": {"kind": "Node", "name": "n1"}}
    ok(server.request("POST", f"{NS}/pods/bound/binding", binding), 201)
    p = ok(server.request("GET", f"{NS}/pods/bound"))
    assert p["spec"]["nodeName"] == "n1"
    assert any(c["type"] == "PodScheduled" for c in p["status"]["conditions"])
    status, body = server.request("POST", f"{NS}/pods/bound/binding", {**binding, "target": {"name": "n2"}})
    assert status == 409 and "already assigned" in body["message"]
    terminating = ok(server.request("DELETE", f"{NS}/pods/bound"))
    assert terminating["metadata"]["deletionTimestamp"] and terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    assert ok(server.request("GET", f"{NS}/pods/bound"))["metadata"]["deletionTimestamp"]
    ok(server.request("DELETE", f"{NS}/pods/bound", {"gracePeriodSeconds": 0}))  # what the kubelet does
    assert server.request("GET", f"{NS}/pods/bound")[0] == 404


def test_unscheduled_pod_deletes_at_once_and_eviction(server: KubeliteServer) -> None:
    ok(server.request("POST", f"{NS}/pods", pod("loose")), 201)
    ok(server.request("DELETE", f"{NS}/pods/loose"))
    assert server.request("GET", f"{NS}/pods/loose")[0] == 404
    ok(server.request("POST", f"{NS}/pods", pod("evictme")), 201)
    ev = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "evictme"}, "deleteOptions": {}}
    assert ok(server.request("POST", f"{NS}/pods/evictme/eviction", ev), 201)["status"] == "Success"
    assert server.request("GET", f"{NS}/pods/evictme")[0] == 404


def test_status_subresource_split(server: KubeliteServer) -> None:
    created = ok(server.request("POST", f"{NS}/pods", pod("stat")), 201)
    assert created["status"]["phase"] == "Pending"
    created["status"] = {"phase": "Running"}
    created["metadata"]["labels"] = {"via": "main"}
    main = ok(server.request("PUT", f"{NS}/pods/stat", created))
    assert main["status"]["phase"] == "Pending" and main["metadata"]["labels"] == {"via": "main"}
    main["status"] = {"phase": "Running", "podIP": "10.42.0.5"}
    main["metadata"]["labels"] = {"via": "status"}
    st = ok(server.request("PUT", f"{NS}/pods/stat/status", main))
    assert st["status"]["phase"] == "Running" and st["metadata"]["labels"] == {"via": "main"}
    assert st["metadata"]["generation"] == 1
    patched = ok(server.request("PATCH", f"{NS}/pods/stat/status", {"status": {"podIP": "10.42.0.6"}},
                                "application/merge-patch+json"))
    assert patched["status"]["podIP"] == "10.42.0.6"


def test_dry_run_writes_nothing(server: KubeliteServer) -> None:
    obj = ok(server.request("POST", f"{NS}/configmaps?dryRun=All", {"metadata": {"name": "dry"}}), 201)
    assert obj["metadata"]["name"] == "dry"
    assert server.request("GET", f"{NS}/configmaps/dry")[0] == 404


def test_service_allocation_without_duplicates(server: KubeliteServer) -> None:
    ips, ports = set(), set()
    for i in range(5):
        svc = {"metadata": {"name": f"np{i}"},
               "spec": {"type": "NodePort", "ports": [{"port": 80}], "selector": {"a": "b"}}}
        body = ok(server.request("POST", f"{NS}/services", svc), 201)
        ips.add(body["spec"]["clusterIP"])
        ports.add(body["spec"]["ports"][0]["nodePort"])
    assert len(ips) == 5 and len(ports) == 5 and "10.43.0.1" not in ips
    taken = next(iter(ips))
    status, body = server.request("POST", f"{NS}/services", {"metadata": {"name": "dup"},
                                                               "spec": {"clusterIP": taken, "ports": [{"port": 80}]}})
    assert status == 422 and "already allocated" in body["message"]
    headless = ok(server.request("POST", f"{NS}/services", {"metadata": {"name": "headless"},
                                                             "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}),
                  201)
    assert headless["spec"]["clusterIP"] == "None"


def test_generation_bumps_only_on_spec_changes(server: KubeliteServer) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gen"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}},
                                 "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    path = "/apis/apps/v1/namespaces/default/deployments"
    assert ok(server.request("POST", path, dep), 201)["metadata"]["generation"] == 1
    lab = ok(server.request("PATCH", f"{path}/gen", {"metadata": {"labels": {"l": "1"}}}, "application/merge-patch+json"))
    assert lab["metadata"]["generation"] == 1
    spec = ok(server.request("PATCH", f"{path}/gen", {"spec": {"replicas": 2}}, "application/merge-patch+json"))
    assert spec["metadata"]["generation"] == 2
    scale = ok(server.request("GET", f"{path}/gen/scale"))
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2 and scale["status"]["selector"] == "a=b"


def test_discovery_legacy_and_aggregated(server: KubeliteServer) -> None:
    body = ok(server.request("GET", "/api/v1"))
    names = {r["name"]: r for r in body["resources"]}
    assert names["pods/eviction"]["group"] == "policy" and names["pods/eviction"]["kind"] == "Eviction"
    assert "pods/log" in names and "pods/exec" in names and names["pods"]["shortNames"] == ["po"]
    apps = ok(server.request("GET", "/apis/apps/v1"))
    assert {r["name"] for r in apps["resources"]} >= {"deployments", "deployments/scale", "replicasets"}
    req = urllib.request.Request(server.url + "/apis", headers={
        "Authorization": f"Bearer {server.token}",
        "Accept": f"{AGGREGATED_V2},application/json"})
    with urllib.request.urlopen(req, context=server.ssl_context()) as resp:
        assert resp.headers["Content-Type"] == AGGREGATED_V2
        agg = json.loads(resp.read())
    assert agg["kind"] == "APIGroupDiscoveryList" and "apps" in [i["metadata"]["name"] for i in agg["items"]]
    assert ok(server.request("GET", "/apis"))["kind"] == "APIGroupList"


def test_openapi_v3_and_metrics(server: KubeliteServer) -> None:
    paths = ok(server.request("GET", "/openapi/v3"))["paths"]
    assert "api/v1" in paths and "apis/apps/v1" in paths
    doc = ok(server.request("GET", "/" + paths["apis/apps/v1"]["serverRelativeURL"].lstrip("/")))
    assert doc["openapi"].startswith("3.")
    status, text = server.request("GET", "/metrics")
    assert status == 200
    assert b'apiserver_request_total{code="200",resource="",verb="get"}' in text
    assert b"apiserver_storage_duration_seconds_bucket" in text


def test_client_certificate_authentication(server: KubeliteServer) -> None:
    ctx = ssl.create_default_context(cafile=str(server.ca_cert))
    ctx.load_cert_chain(*map(str, server.admin_cert))
    with urllib.request.urlopen(server.url + "/api/v1/namespaces", context=ctx) as resp:
        assert resp.status == 200


def test_restart_keeps_ca_token_state_and_allocations(tmp_path: Path) -> None:
    srv = KubeliteServer(data_dir=tmp_path / "data")
    try:
        srv.start()
        ca, token = srv.ca_cert.read_bytes(), srv.token
        first = ok(srv.request("POST", f"{NS}/services", {"metadata": {"name": "s1"}, "spec": {
            "type": "NodePort", "ports": [{"port": 80}]}}), 201)
        srv.stop()
        srv.start()
        assert srv.ca_cert.read_bytes() == ca and srv.token == token
        assert ok(srv.request("GET", f"{NS}/services/s1"))["metadata"]["uid"] == first["metadata"]["uid"]
        second = ok(srv.request("POST", f"{NS}/services", {"metadata": {"name": "s2"}, "spec": {
            "type": "NodePort", "ports": [{"port": 80}]}}), 201)
        assert second["spec"]["clusterIP"] != first["spec"]["clusterIP"]
        assert second["spec"]["ports"][0]["nodePort"] != first["spec"]["ports"][0]["nodePort"]
    finally:
        srv.cleanup()


def test_namespace_terminates_then_finalize_removes_it(server: KubeliteServer) -> None:
    ok(server.request("POST", "/api/v1/namespaces", {"metadata": {"name": "fin-ns"}}), 201)
    gone = ok(server.request("DELETE", "/api/v1/namespaces/fin-ns"))
    assert gone["status"]["phase"] == "Terminating" and gone["spec"]["finalizers"] == ["kubernetes"]
    status, body = server.request("POST", "/api/v1/namespaces/fin-ns/configmaps", {"metadata": {"name": "x"}})
    assert status == 403 and "because it is being terminated" in body["message"]
    # what the namespace controller does once the namespace is empty
    gone["spec"]["finalizers"] = []
    ok(server.request("PUT", "/api/v1/namespaces/fin-ns/finalize", gone))
    assert server.request("GET", "/api/v1/namespaces/fin-ns")[0] == 404
