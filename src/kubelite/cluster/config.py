"""What `kubelite up` remembers about a cluster, so that running `up` again resumes the same one.

DATA_DIR/cluster.json holds the choices made the first time (node names, datastore, network
mode, ports); options given on a later `up` override them and are saved again. The node names
decide the network namespace names (``kubelite-<node>``) and the per-node directories
(DATA_DIR/nodes/<node>), so a resumed cluster finds its containerd state, its images and its
static pod manifests where it left them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("/var/lib/kubelite")
CONFIG_FILE = "cluster.json"
PID_FILE = "kubelite.pid"
CONTROL_SOCKET = "control.sock"
LOG_FILE = "kubelite.log"
NETNS_PREFIX = "kubelite-"
DEFAULT_API_PORT = 6443
DEFAULT_KUBELET_PORT = 10250
#: Kubernetes' own defaults for the node lifecycle controller
DEFAULT_NODE_MONITOR_GRACE = 40.0
DEFAULT_EVICTION_TIMEOUT = 300.0

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class ClusterConfigError(ValueError):
    """A bad option or a damaged cluster.json: the message says which and why."""


def default_node_name() -> str:
    """The host name, made a valid node name (DNS label, lower case)."""
    name = re.sub(r"[^a-z0-9-]", "-", socket.gethostname().split(".")[0].lower()).strip("-")
    return name[:40] or "node"


def node_names(first: list[str], count: int) -> list[str]:
    """`count` node names: the given ones, then ``<first>-2``, ``<first>-3``..."""
    names = list(first) or [default_node_name()]
    if len(names) > count:
        raise ClusterConfigError(f"{len(names)} node names given for --nodes {count}")
    base = names[0]
    i = 2
    while len(names) < count:
        candidate = f"{base}-{i}"
        if candidate not in names:
            names.append(candidate)
        i += 1
    return names


def check_node_name(name: str) -> None:
    # the netns name "kubelite-<node>" must fit /run/netns; 40 keeps every derived name short
    if len(name) > 40 or not _DNS_LABEL.match(name):
        raise ClusterConfigError(f"invalid node name {name!r}: use at most 40 lower-case letters, digits "
                                 "and '-', starting and ending with a letter or digit")


@dataclass
class ClusterConfig:
    """One cluster's settings (what cluster.json stores)."""

    data_dir: Path
    nodes: list[str] = field(default_factory=list)
    datastore: str | None = None
    host_network: bool = False
    api_port: int = DEFAULT_API_PORT
    kubelet_port: int = DEFAULT_KUBELET_PORT
    node_monitor_grace: float = DEFAULT_NODE_MONITOR_GRACE
    eviction_timeout: float = DEFAULT_EVICTION_TIMEOUT

    @property
    def control_plane(self) -> str:
        return self.nodes[0]

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig.yaml"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / PID_FILE

    @property
    def control_socket(self) -> Path:
        return self.data_dir / CONTROL_SOCKET

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_FILE

    def node_dir(self, node: str) -> Path:
        return self.data_dir / "nodes" / node

    def manifest_dir(self, node: str) -> Path:
        return self.node_dir(node) / "manifests"

    def netns(self, node: str) -> str | None:
        """The node's network namespace name (None: the host's own network)."""
        return None if self.host_network else f"{NETNS_PREFIX}{node}"

    @property
    def bridge_netns(self) -> str | None:
        """The namespace holding the bridge between the node namespaces (None: host network).

        Named after the data dir, so two clusters on one machine never share (or delete) it."""
        if self.host_network:
            return None
        return f"{NETNS_PREFIX}br-{hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:8]}"

    def datastore_url(self) -> str:
        return self.datastore or f"sqlite://{self.data_dir / 'state.db'}"

    def validate(self) -> None:
        if not self.nodes:
            raise ClusterConfigError("a cluster needs at least one node")
        if len(set(self.nodes)) != len(self.nodes):
            raise ClusterConfigError(f"node names must differ: {', '.join(self.nodes)}")
        for name in self.nodes:
            check_node_name(name)
        if self.host_network and len(self.nodes) > 1:
            raise ClusterConfigError("--host-network runs one node on this machine's own network; "
                                     "use network namespaces (the default) for --nodes > 1")
        if self.datastore is not None and not self.datastore.startswith(("sqlite://", "etcd://", "memory://")):
            raise ClusterConfigError(f"unsupported --datastore {self.datastore!r}: use sqlite:///path/state.db "
                                     "or etcd://host:2379[,host:2379...]")
        if self.node_monitor_grace <= 0:
            raise ClusterConfigError("--node-monitor-grace-period must be > 0")
        if self.eviction_timeout < 0:
            raise ClusterConfigError("--pod-eviction-timeout must be >= 0")
        # unix sockets: containerd's lives in DATA_DIR/nodes/<node>/containerd/containerd.sock
        longest = max(len(str(self.node_dir(n) / "containerd" / "containerd.sock.ttrpc")) for n in self.nodes)
        if longest > 107:
            raise ClusterConfigError(f"--data-dir {self.data_dir} is too long for containerd's unix socket "
                                     "path (at most 107 bytes): choose a shorter one")

    # -- persistence --------------------------------------------------------------------------

    def save(self) -> None:
        """Write cluster.json atomically (blocking: call off the event loop)."""
        doc: dict[str, Any] = asdict(self)
        doc.pop("data_dir")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.data_dir / (CONFIG_FILE + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, self.data_dir / CONFIG_FILE)

    @classmethod
    def load(cls, data_dir: Path) -> ClusterConfig | None:
        """The saved config of `data_dir`, or None for a new cluster."""
        path = data_dir / CONFIG_FILE
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise ClusterConfigError(f"cannot read {path}: {err}") from None
        if not isinstance(doc, dict):
            raise ClusterConfigError(f"{path} is not a JSON object")
        known = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__ and k != "data_dir"}
        try:
            config = cls(data_dir=data_dir, **known)
        except TypeError as err:
            raise ClusterConfigError(f"{path}: {err}") from None
        if not isinstance(config.nodes, list) or not all(isinstance(n, str) for n in config.nodes):
            raise ClusterConfigError(f"{path}: 'nodes' must be a list of names")
        return config


def looks_like_cluster_dir(data_dir: Path) -> bool:
    """True when `data_dir` holds a kubelite cluster (what `down --purge` agrees to delete)."""
    return (data_dir / CONFIG_FILE).is_file() or (
        (data_dir / "kubeconfig.yaml").is_file() and (data_dir / "tls").is_dir())
