"""kube-proxy (iptables mode): Service virtual IPs to pod endpoints. See docs/network.md.

`rules` builds the iptables-restore text (pure functions); `proxier.Proxier` watches Services
and EndpointSlices and applies it atomically in the node's network namespace.
"""

from kubelite.proxy.proxier import Iptables, Proxier
from kubelite.proxy.rules import Endpoint, ProxyConfig, ServicePort, build_tables, render_restore

__all__ = ["Iptables", "Proxier", "Endpoint", "ProxyConfig", "ServicePort", "build_tables", "render_restore"]
