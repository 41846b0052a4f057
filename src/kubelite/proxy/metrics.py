"""kube-proxy's Prometheus metrics (names as Kubernetes exports them), in the default registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60)

#: from the proxy seeing a Service/EndpointSlice change to the rules for it being applied
NETWORK_PROGRAMMING = Histogram(
    "kubeproxy_network_programming_duration_seconds",
    "Service or endpoint change seen by the proxy to iptables rules applied", buckets=_BUCKETS)
SYNC_DURATION = Histogram(
    "kubeproxy_sync_proxy_rules_duration_seconds", "One iptables-restore sync (build + apply)",
    buckets=_BUCKETS)
SYNC_FAILURES = Counter(
    "kubeproxy_sync_proxy_rules_iptables_restore_failures", "iptables-restore runs that failed")
LAST_SYNC = Gauge(
    "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "When the rules were last applied")
