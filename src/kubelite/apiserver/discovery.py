"""Discovery documents, built once from the resource table (kubectl-wire.md §1).

Legacy discovery (/api, /apis, /api/v1, /apis/g/v) and aggregated discovery v2 (only when the
client asks for it in Accept, answered with the exact Content-Type kubectl checks for).
"""

from __future__ import annotations

from typing import Any

import orjson

from kubelite import GIT_VERSION, KUBERNETES_VERSION
from kubelite.api.resources import GROUP_VERSIONS, RESOURCES, Resource
from kubelite.apiserver import metricsapi

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"


def version_info() -> dict[str, str]:
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    return {"major": major, "minor": minor, "gitVersion": GIT_VERSION, "gitCommit": "kubelite",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "python3.11",
            "compiler": "cpython", "platform": "linux/amd64"}


def wants_aggregated(accept: str) -> str | None:
    """The aggregated Content-Type to answer with, if the client prefers one."""
    for part in accept.split(","):
        p = part.replace(" ", "")
        if "as=APIGroupDiscoveryList" in p and "g=apidiscovery.k8s.io" in p:
            if "v=v2beta1" in p:
                return AGGREGATED_V2BETA1
            if "v=v2" in p:
                return AGGREGATED_V2
    return None


def _groups() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for gv in GROUP_VERSIONS:
        if "/" in gv:
            g, v = gv.split("/")
            groups.setdefault(g, []).append(v)
    return groups


def _api_resource(r: Resource) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{
        "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
        "verbs": list(r.verbs), **({"shortNames": list(r.short_names)} if r.short_names else {}),
        **({"categories": list(r.categories)} if r.categories else {}),
    }]
    for s in r.subresources:
        entry: dict[str, Any] = {"name": f"{r.plural}/{s.name}", "singularName": "", "namespaced": r.namespaced,
                                 "kind": s.kind, "verbs": list(s.verbs)}
        if (s.group, s.version) != (r.group, r.version):
            entry["group"], entry["version"] = s.group, s.version
        out.append(entry)
    return out


def resource_list(group_version: str) -> dict[str, Any] | None:
    items = [e for r in RESOURCES if r.api_version == group_version for e in _api_resource(r)]
    if not items:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": items}


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": vs, "preferredVersion": vs[0]}


def _served_groups() -> dict[str, list[str]]:
    """The stored groups plus metrics.k8s.io (served from the kubelets, not from storage)."""
    return {**_groups(), metricsapi.GROUP: [metricsapi.VERSION]}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g, vs) for g, vs in _served_groups().items()]}


def api_group(name: str) -> dict[str, Any] | None:
    versions = _served_groups().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _aggregated_resource(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural, "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [{"subresource": s.name,
                                  "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                                  "verbs": list(s.verbs)} for s in r.subresources]
    return entry


def aggregated(core: bool, content_type: str) -> dict[str, Any]:
    api_version = "apidiscovery.k8s.io/v2beta1" if "v2beta1" in content_type else "apidiscovery.k8s.io/v2"
    items = []
    groups = {"": ["v1"]} if core else _groups()
    for g, versions in groups.items():
        vs = []
        for v in versions:
            gv = f"{g}/{v}" if g else v
            vs.append({"version": v, "freshness": "Current",
                       "resources": [_aggregated_resource(r) for r in RESOURCES if r.api_version == gv]})
        items.append({"metadata": {"name": g, "creationTimestamp": None}, "versions": vs})
    if not core:
        items.append(metricsapi.aggregated_group())
    return {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}, "items": items}


class DiscoveryCache:
    """Pre-encoded discovery bodies: they never change while the server runs."""

    def __init__(self, server_address: str) -> None:
        self.version = orjson.dumps(version_info())
        self.api = orjson.dumps(api_versions(server_address))
        self.apis = orjson.dumps(api_group_list())
        self.agg_core = {ct: orjson.dumps(aggregated(True, ct)) for ct in (AGGREGATED_V2, AGGREGATED_V2BETA1)}
        self.agg_apis = {ct: orjson.dumps(aggregated(False, ct)) for ct in (AGGREGATED_V2, AGGREGATED_V2BETA1)}
        self.lists: dict[str, bytes] = {}
        for gv in GROUP_VERSIONS:
            doc = resource_list(gv)
            if doc is not None:
                self.lists[gv] = orjson.dumps(doc)
        self.lists[metricsapi.GROUP_VERSION] = orjson.dumps(metricsapi.resource_list())
        self.groups: dict[str, bytes] = {}
        for g in _served_groups():
            doc = api_group(g)
            if doc is not None:
                self.groups[g] = orjson.dumps(doc)
