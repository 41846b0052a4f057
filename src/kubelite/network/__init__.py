"""The pod network across nodes on one machine: cluster bridge, node namespaces, host-gw routes.

See docs/network.md. `build_cluster_network` / `teardown_cluster_network` make and remove the
namespaces; `RouteSyncer` (run by each agent) routes the other nodes' podCIDRs.
"""

from kubelite.network.cluster import (
    ClusterNetwork,
    NodeNetwork,
    add_node,
    build_cluster_network,
    teardown_cluster_network,
)
from kubelite.network.netns import NetnsError, ensure_service_route, node_address
from kubelite.network.routes import RouteSyncer

__all__ = ["ClusterNetwork", "NodeNetwork", "add_node", "build_cluster_network", "teardown_cluster_network",
           "NetnsError", "ensure_service_route", "node_address", "RouteSyncer"]
