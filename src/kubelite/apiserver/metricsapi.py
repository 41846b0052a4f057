"""metrics.k8s.io/v1beta1 (NodeMetrics, PodMetrics), served by the apiserver itself.

Why here and not a metrics-server: `kubectl top` needs only the latest usage, and every kubelet
already computes it (`GET /stats/summary`, CPU as a rate in nanocores, memory working set). So the
apiserver asks the kubelets on demand, through the same connection logic as the log/exec proxy
(the node's InternalIP and kubeletEndpoint port, the admin client certificate and token), all
nodes at once with a short timeout; a node that does not answer is left out of the answer (as
metrics-server leaves out nodes it could not scrape) rather than failing the request.

Shapes follow metrics-server: usage cpu in nanocores ("12345n"), memory working set in Ki, and
`timestamp` the kubelet's sample time. The kubelet reports the CPU rate since its previous sample
(at least 1 s apart), so `window` says "1s".
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubelite.api.resources import NODES, PODS
from kubelite.apiserver import errors, objects
from kubelite.apiserver.errors import ApiError
from kubelite.apiserver.http import Answer, Request
from kubelite.apiserver.watchcache import decode

log = logging.getLogger(__name__)

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
PREFIX = f"/apis/{GROUP_VERSION}"
#: seconds to wait for one kubelet's /stats/summary (its first call samples twice, 0.25 s apart)
SUMMARY_TIMEOUT = 5.0
WINDOW = "1s"

#: discovery: (plural, singular, kind, namespaced)
RESOURCES = (("nodes", "", "NodeMetrics", False), ("pods", "", "PodMetrics", True))


def resource_list() -> dict[str, Any]:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
            "resources": [{"name": plural, "singularName": singular, "namespaced": namespaced, "kind": kind,
                           "verbs": ["get", "list"]} for plural, singular, kind, namespaced in RESOURCES]}


def aggregated_group() -> dict[str, Any]:
    """The group's entry in an APIGroupDiscoveryList (aggregated discovery)."""
    return {"metadata": {"name": GROUP, "creationTimestamp": None}, "versions": [{
        "version": VERSION, "freshness": "Current", "resources": [
            {"resource": plural, "responseKind": {"group": GROUP, "version": VERSION, "kind": kind},
             "scope": "Namespaced" if namespaced else "Cluster", "singularResource": plural[:-1],
             "verbs": ["get", "list"]} for plural, _, kind, namespaced in RESOURCES]}]}


def cpu(entry: dict[str, Any] | None) -> str | None:
    rate = (entry or {}).get("usageNanoCores")
    return f"{int(rate)}n" if isinstance(rate, int | float) else None


def memory(entry: dict[str, Any] | None) -> str | None:
    ws = (entry or {}).get("workingSetBytes")
    return f"{int(ws) // 1024}Ki" if isinstance(ws, int | float) else None


class MetricsApi:
    """GET/LIST of NodeMetrics and PodMetrics from the kubelets' summaries."""

    def __init__(self, rest: Any, proxy: Any) -> None:
        self.rest = rest
        self.proxy = proxy

    async def handle(self, request: Request, path: str) -> Answer:
        if request.method != "GET":
            raise errors.method_not_allowed()
        if request.query.get("watch") in ("true", "1"):
            raise errors.method_not_allowed()
        parts = path[len(PREFIX):].strip("/").split("/")
        ns: str | None = None
        if len(parts) >= 3 and parts[0] == "namespaces":
            ns, parts = parts[1], parts[2:]
        if not parts or parts[0] not in ("nodes", "pods") or len(parts) > 2 or (parts[0] == "nodes" and ns):
            raise errors.route_not_found(path)
        name = parts[1] if len(parts) == 2 else None
        if parts[0] == "nodes":
            return objects_response(await self.node_metrics(request, name), "NodeMetrics", name)
        return objects_response(await self.pod_metrics(request, ns, name), "PodMetrics", name,
                                f"{ns}/{name}" if ns else name)

    # ------------------------------------------------------------------ data
    async def _stored(self, res: Any, ns: str | None) -> list[dict[str, Any]]:
        """Nodes or pods as stored now (a consistent read: a pod created a moment ago is there)."""
        result = await self.rest.store.list(res.storage_prefix(ns))
        return [decode(kv.value, kv.mod_revision) for kv in result.items]

    async def summaries(self, nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Each reachable node's /stats/summary, fetched concurrently; the others are skipped."""

        async def one(node: dict[str, Any]) -> dict[str, Any] | None:
            name = node["metadata"]["name"]
            try:
                doc = await self.proxy.get_json(node, "/stats/summary", SUMMARY_TIMEOUT)
            except Exception as e:  # noqa: BLE001 - aiohttp errors, a garbled answer: skip the node
                log.info("metrics: skipping node %s: %s", name, e or type(e).__name__)
                return None
            return doc if isinstance(doc, dict) else None

        docs = await asyncio.gather(*(one(n) for n in nodes))
        return {n["metadata"]["name"]: d for n, d in zip(nodes, docs, strict=True) if d is not None}

    async def node_metrics(self, request: Request, name: str | None) -> list[dict[str, Any]]:
        nodes = await self._stored(NODES, None)
        if name is not None:
            nodes = [n for n in nodes if n["metadata"].get("name") == name]
        else:
            label_match, field_match = self.rest.selectors(NODES, request.query)
            nodes = self.rest._filter(NODES, nodes, label_match, field_match)
        summaries = await self.summaries(nodes)
        out = []
        for n in nodes:
            meta = n["metadata"]
            doc = summaries.get(meta["name"])
            node = (doc or {}).get("node") or {}
            usage = {"cpu": cpu(node.get("cpu")), "memory": memory(node.get("memory"))}
            if doc is None or None in usage.values():
                continue
            out.append({"metadata": _meta(meta, None),
                        "timestamp": (node.get("cpu") or {}).get("time") or objects.now_iso(),
                        "window": WINDOW, "usage": usage})
        return out

    async def pod_metrics(self, request: Request, ns: str | None, name: str | None) -> list[dict[str, Any]]:
        pods = await self._stored(PODS, ns)
        if name is not None:
            pods = [p for p in pods if p["metadata"].get("name") == name]
        else:
            label_match, field_match = self.rest.selectors(PODS, request.query)
            pods = self.rest._filter(PODS, pods, label_match, field_match)
        wanted = {(p["metadata"].get("namespace"), p["metadata"].get("name")): p for p in pods
                  if (p.get("spec") or {}).get("nodeName")}
        node_names = {p["spec"]["nodeName"] for p in wanted.values()}
        nodes = [n for n in await self._stored(NODES, None) if n["metadata"].get("name") in node_names]
        summaries = await self.summaries(nodes)
        out: list[dict[str, Any]] = []
        for doc in summaries.values():
            for entry in doc.get("pods") or []:
                ref = entry.get("podRef") or {}
                pod = wanted.get((ref.get("namespace"), ref.get("name")))
                if pod is None or (ref.get("uid") and ref.get("uid") != pod["metadata"].get("uid")):
                    continue
                containers: list[dict[str, Any]] = []
                for c in entry.get("containers") or []:
                    usage = {"cpu": cpu(c.get("cpu")), "memory": memory(c.get("memory"))}
                    if None in usage.values():
                        break  # a container without a rate yet: the pod has no metrics yet
                    containers.append({"name": c.get("name", ""), "usage": usage})
                else:
                    out.append({"metadata": _meta(pod["metadata"], ref.get("namespace")),
                                "timestamp": (entry.get("cpu") or {}).get("time") or objects.now_iso(),
                                "window": WINDOW, "containers": containers})
        out.sort(key=lambda m: (m["metadata"].get("namespace", ""), m["metadata"]["name"]))
        return out


def _meta(meta: dict[str, Any], ns: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": meta.get("name"), "creationTimestamp": objects.now_iso()}
    if ns:
        out["namespace"] = ns
    if meta.get("labels"):
        out["labels"] = meta["labels"]
    return out


def objects_response(items: list[dict[str, Any]], kind: str, name: str | None,
                     shown: str | None = None) -> Answer:
    from kubelite.apiserver.rest import json_response

    if name is not None:
        if not items:
            plural = "nodemetrics" if kind == "NodeMetrics" else "podmetrics"
            raise ApiError(404, "NotFound", f'{plural}.{GROUP} "{shown or name}" not found',
                           {"name": name, "group": GROUP, "kind": "nodes" if kind == "NodeMetrics" else "pods"})
        return json_response({"kind": kind, "apiVersion": GROUP_VERSION, **items[0]})
    return json_response({"kind": f"{kind}List", "apiVersion": GROUP_VERSION, "metadata": {},
                          "items": items})
