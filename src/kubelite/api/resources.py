"""Every resource kubelite serves: group/version/kind, plural, scope, verbs, subresources.

One entry per resource. The apiserver builds its routes, discovery documents and storage keys
from this table; clients use it to turn a kind into a URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True, slots=True)
class Subresource:
    name: str
    group: str
    version: str
    kind: str
    verbs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Resource:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[Subresource, ...] = field(default_factory=tuple)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def group_resource(self) -> str:
        """`deployments.apps`, or `pods` for the core group (as Kubernetes names it in errors)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The REST path: /api/v1/namespaces/ns/pods/name/status, /apis/apps/v1/deployments..."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base

    def storage_prefix(self, namespace: str | None = None) -> str:
        """Store keys: /registry/<group-resource>/<namespace>/<name> (cluster-scoped: no namespace)."""
        prefix = f"/registry/{self.group_resource}/"
        if self.namespaced and namespace:
            prefix += f"{namespace}/"
        return prefix

    def storage_key(self, namespace: str | None, name: str) -> str:
        return self.storage_prefix(namespace if self.namespaced else None) + name

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None


def _status(group: str, version: str, kind: str) -> Subresource:
    return Subresource("status", group, version, kind, ("get", "patch", "update"))


def _scale() -> Subresource:
    return Subresource("scale", "autoscaling", "v1", "Scale", ("get", "patch", "update"))


RESOURCES: tuple[Resource, ...] = (
    # core/v1
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",),
             verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
             subresources=(_status("", "v1", "Namespace"),
                           Subresource("finalize", "", "v1", "Namespace", ("update",)))),
    Resource("", "v1", "Node", "nodes", False, ("no",), subresources=(_status("", "v1", "Node"),
             Subresource("proxy", "", "v1", "NodeProxyOptions", ("create", "delete", "get", "patch", "update")))),
    Resource("", "v1", "Pod", "pods", True, ("po",), ("all",), subresources=(
        _status("", "v1", "Pod"),
        Subresource("binding", "", "v1", "Binding", ("create",)),
        Subresource("log", "", "v1", "Pod", ("get",)),
        Subresource("exec", "", "v1", "PodExecOptions", ("create", "get")),
        Subresource("attach", "", "v1", "PodAttachOptions", ("create", "get")),
        Subresource("portforward", "", "v1", "PodPortForwardOptions", ("create", "get")),
        Subresource("eviction", "policy", "v1", "Eviction", ("create",)),
    )),
    Resource("", "v1", "Binding", "bindings", True, verbs=("create",)),
    Resource("", "v1", "Service", "services", True, ("svc",), ("all",),
             verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
             subresources=(_status("", "v1", "Service"),)),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    Resource("", "v1", "Event", "events", True, ("ev",)),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",),
             subresources=(Subresource("token", "authentication.k8s.io", "v1", "TokenRequest", ("create",)),)),
    Resource("", "v1", "PodTemplate", "podtemplates", True),
    Resource("", "v1", "ReplicationController", "replicationcontrollers", True, ("rc",), ("all",),
             subresources=(_status("", "v1", "ReplicationController"), _scale())),
    # apps/v1
    Resource("apps", "v1", "Deployment", "deployments", True, ("deploy",), ("all",),
             subresources=(_status("apps", "v1", "Deployment"), _scale())),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("all",),
             subresources=(_status("apps", "v1", "ReplicaSet"), _scale())),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ("all",),
             subresources=(_status("apps", "v1", "DaemonSet"),)),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    # batch/v1
    Resource("batch", "v1", "Job", "jobs", True, (), ("all",), subresources=(_status("batch", "v1", "Job"),)),
    # coordination.k8s.io/v1
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    # discovery.k8s.io/v1
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    # events.k8s.io/v1
    Resource("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
)

#: The group-versions served, in discovery order (the first of a group is preferred).
GROUP_VERSIONS: tuple[str, ...] = tuple(dict.fromkeys(r.api_version for r in RESOURCES))

_BY_PATH: dict[tuple[str, str, str], Resource] = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND: dict[tuple[str, str], Resource] = {}
for _r in RESOURCES:
    _BY_KIND.setdefault((_r.api_version, _r.kind), _r)


def lookup(group: str, version: str, plural: str) -> Resource | None:
    return _BY_PATH.get((group, version, plural))


def for_kind(api_version: str, kind: str) -> Resource | None:
    """The resource that stores objects of this apiVersion/kind (v1 Event -> core events)."""
    return _BY_KIND.get((api_version, kind))


def by_plural(plural: str, group: str = "") -> Resource:
    """Convenience for code that names a resource: by_plural("deployments", "apps")."""
    for r in RESOURCES:
        if r.plural == plural and r.group == group:
            return r
    raise KeyError(f"{plural}.{group}" if group else plural)


# Handy constants for the components that use them most.
NAMESPACES = by_plural("namespaces")
NODES = by_plural("nodes")
PODS = by_plural("pods")
SERVICES = by_plural("services")
ENDPOINTS = by_plural("endpoints")
EVENTS = by_plural("events")
CONFIGMAPS = by_plural("configmaps")
SECRETS = by_plural("secrets")
SERVICEACCOUNTS = by_plural("serviceaccounts")
REPLICATIONCONTROLLERS = by_plural("replicationcontrollers")
DEPLOYMENTS = by_plural("deployments", "apps")
REPLICASETS = by_plural("replicasets", "apps")
DAEMONSETS = by_plural("daemonsets", "apps")
CONTROLLERREVISIONS = by_plural("controllerrevisions", "apps")
JOBS = by_plural("jobs", "batch")
LEASES = by_plural("leases", "coordination.k8s.io")
ENDPOINTSLICES = by_plural("endpointslices", "discovery.k8s.io")
