"""The `kubernetes` Service in default has Endpoints and an EndpointSlice pointing at the apiserver,
and a restart on another port moves them (reconciled at every start)."""

from __future__ import annotations

import json
from pathlib import Path

from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer, free_port


def kubernetes_objects(k: Kubectl) -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    svc = json.loads(k("get", "service", "kubernetes", "-n", "default", "-o", "json").stdout)
    ep = json.loads(k("get", "endpoints", "kubernetes", "-n", "default", "-o", "json").stdout)
    slices = json.loads(k("get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes",
                          "-o", "json").stdout)["items"]
    assert len(slices) == 1
    return svc, ep, slices[0]


def test_kubernetes_service_points_at_the_apiserver(tmp_path: Path) -> None:
    srv = KubeliteServer(data_dir=tmp_path / "data")
    k = Kubectl(srv.kubeconfig, home=tmp_path / "home")
    try:
        srv.start()
        svc, ep, es = kubernetes_objects(k)
        assert svc["spec"]["clusterIP"] == "10.43.0.1" and svc["spec"]["ports"][0]["port"] == 443
        assert svc["spec"]["ports"][0]["targetPort"] == srv.port
        assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                                  "ports": [{"name": "https", "port": srv.port, "protocol": "TCP"}]}]
        assert es["addressType"] == "IPv4"
        assert [e["addresses"] for e in es["endpoints"]] == [["127.0.0.1"]]
        assert es["endpoints"][0]["conditions"]["ready"] is True
        assert es["ports"] == [{"name": "https", "port": srv.port, "protocol": "TCP"}]
        out = k("get", "endpoints", "kubernetes").stdout
        assert f"127.0.0.1:{srv.port}" in out

        srv.stop()
        srv.port = free_port()
        srv.start()
        svc2, ep2, es2 = kubernetes_objects(k)
        assert svc2["metadata"]["uid"] == svc["metadata"]["uid"]
        assert svc2["spec"]["ports"][0]["targetPort"] == srv.port
        assert ep2["subsets"][0]["ports"][0]["port"] == srv.port
        assert es2["ports"][0]["port"] == srv.port and es2["metadata"]["uid"] == es["metadata"]["uid"]
    finally:
        srv.cleanup()
