"""Cluster DNS (`<svc>.<ns>.svc.cluster.local`, headless, pods, SRV) on dnslib. See docs/network.md."""

from kubelite.dns.records import Records
from kubelite.dns.server import CLUSTER_DNS_IP, ClusterDns, DnsServer, dns_service, dns_slice

__all__ = ["Records", "CLUSTER_DNS_IP", "ClusterDns", "DnsServer", "dns_service", "dns_slice"]
