"""Services and the pod network end to end, as a user sees them with the real kubectl: two real
nodes (agents with containerd in their own namespaces, joined by a cluster bridge), kube-proxy's
iptables rules, cluster DNS, host-gw routes. One cluster serves the module; the tests that take
backends away come last.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator

import pytest
from kubelet.nodecluster import require_node_tools, wait_for

from .harness import BUSYBOX, NetCluster, pod_ips

N1, N2 = "net-n1", "net-n2"

WEB = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      topologySpreadConstraints:
      - {{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
          labelSelector: {{matchLabels: {{app: web}}}}}}
      containers:
      - name: httpd
        image: {BUSYBOX}
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports:
        - {{name: http, containerPort: 8080}}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {{app: web}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
---
apiVersion: v1
kind: Service
metadata:
  name: web-headless
spec:
  clusterIP: None
  selector: {{app: web}}
  ports:
  - {{name: http, port: 8080}}
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  nodeName: {N1}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: {BUSYBOX}
    command: ["sleep", "3600"]
"""

UNREADY = f"""apiVersion: v1
kind: Pod
metadata:
  name: web-unready
  labels: {{app: web}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: {BUSYBOX}
    command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports:
    - {{name: http, containerPort: 8080}}
    readinessProbe:
      exec: {{command: ["false"]}}
      periodSeconds: 1
"""


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[NetCluster]:
    require_node_tools()
    c = NetCluster([N1, N2])
    try:
        c.start()
        c.start_nodes()
        c.apply(WEB)
        wait_for(lambda: len(pod_ips(c, "app=web")) == 3 and c.pod_status("client").get("phase") == "Running",
                 120, "3 web pods and the client running")
        wait_for(lambda: _ready_endpoints(c, "web") == 3, 60, "3 ready endpoints")
        yield c
        if request.session.testsfailed:
            print(c.logs())
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.cleanup()


def _ready_endpoints(c: NetCluster, svc: str) -> int:
    out = json.loads(c.k("get", "endpointslices", "-l", f"kubernetes.io/service-name={svc}", "-o", "json"))
    return sum(1 for s in out["items"] for e in s.get("endpoints") or []
               if (e.get("conditions") or {}).get("ready"))


def _cluster_ip(c: NetCluster, svc: str) -> str:
    return str(json.loads(c.k("get", "svc", svc, "-o", "json"))["spec"]["clusterIP"])


def _fetch_loop(c: NetCluster, pod: str, url: str, n: int) -> list[str]:
    """n requests from inside a pod, one connection each; a failed one prints FAIL."""
    rc, out = c.exec(pod, "sh", "-c", f"for i in $(seq {n}); do timeout 5 wget -qO- {url} || echo FAIL; done",
                     timeout=120)
    assert rc == 0, out
    return out.split()


def test_the_backends_are_spread_over_both_nodes(cluster: NetCluster) -> None:
    assert {node for _, node in pod_ips(cluster, "app=web").values()} == {N1, N2}


def test_pods_reach_each_other_across_nodes_by_ip(cluster: NetCluster) -> None:
    remote = [(name, ip) for name, (ip, node) in pod_ips(cluster, "app=web").items() if node == N2]
    name, ip = remote[0]
    rc, out = cluster.exec("client", "sh", "-c", f"timeout 5 wget -qO- http://{ip}:8080/")
    assert rc == 0 and out.strip() == name, out


def test_60_requests_to_the_cluster_ip_all_succeed_and_reach_every_backend(cluster: NetCluster) -> None:
    answers = _fetch_loop(cluster, "client", f"http://{_cluster_ip(cluster, 'web')}/", 60)
    assert len(answers) == 60 and "FAIL" not in answers
    assert set(answers) == set(pod_ips(cluster, "app=web"))


def test_a_pod_resolves_services_through_cluster_dns(cluster: NetCluster) -> None:
    ip = _cluster_ip(cluster, "web")
    rc, out = cluster.exec("client", "nslookup", "web.default.svc.cluster.local")
    assert rc == 0 and re.search(rf"Address:\s*{re.escape(ip)}\b", out), out
    rc, out = cluster.exec("client", "cat", "/etc/resolv.conf")
    assert "nameserver 10.43.0.10" in out and "search default.svc.cluster.local" in out
    # the short name through the search path, as a program would use it
    rc, out = cluster.exec("client", "sh", "-c", "timeout 5 wget -qO- http://web/")
    assert rc == 0 and out.strip() in pod_ips(cluster, "app=web"), out


def test_a_headless_service_resolves_to_the_pod_ips(cluster: NetCluster) -> None:
    rc, out = cluster.exec("client", "nslookup", "web-headless.default.svc.cluster.local")
    assert rc == 0, out
    found = set(re.findall(r"Address:\s*(10\.42\.\d+\.\d+)", out))
    assert found == {ip for ip, _ in pod_ips(cluster, "app=web").values()}


def test_names_outside_the_cluster_fail_instead_of_hanging(cluster: NetCluster) -> None:
    rc, out = cluster.exec("client", "nslookup", "kubelite.example.org", timeout=60)
    assert rc != 0 and "10.43.0.10" in out


def test_a_pod_reaches_its_own_service(cluster: NetCluster) -> None:
    pods = pod_ips(cluster, "app=web")
    for name in pods:
        answers = _fetch_loop(cluster, name, "http://web/", 30)
        assert "FAIL" not in answers
        assert name in answers  # hairpin: the Service sent the pod's own request back to it


def test_a_node_port_answers_on_the_other_node(cluster: NetCluster) -> None:
    svc = json.loads(cluster.k("get", "svc", "web", "-o", "json"))
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert cluster.net is not None
    n1_ip = cluster.net.nodes[N1].ip
    seen = set()
    for _ in range(6):  # from a process on node 2 to node 1's address
        r = cluster.in_node(N2, "timeout", "5", "busybox", "wget", "-qO-", f"http://{n1_ip}:{node_port}/")
        assert r.returncode == 0, r.stderr
        seen.add(r.stdout.strip())
    assert seen <= set(pod_ips(cluster, "app=web"))
    # and from a pod on node 1 to node 2's address
    rc, out = cluster.exec("client", "sh", "-c",
                           f"timeout 5 wget -qO- http://{cluster.net.nodes[N2].ip}:{node_port}/")
    assert rc == 0 and out.strip() in pod_ips(cluster, "app=web"), out


def test_a_node_reaches_a_cluster_ip(cluster: NetCluster) -> None:
    r = cluster.in_node(N1, "timeout", "5", "busybox", "wget", "-qO-", f"http://{_cluster_ip(cluster, 'web')}/")
    assert r.returncode == 0 and r.stdout.strip() in pod_ips(cluster, "app=web"), r.stderr


def test_a_pod_failing_its_readiness_probe_gets_no_traffic(cluster: NetCluster) -> None:
    cluster.apply(UNREADY)
    try:
        wait_for(lambda: cluster.pod_status("web-unready").get("podIP")
                 and cluster.pod_status("web-unready").get("phase") == "Running", 60, "web-unready running")
        slices = json.loads(cluster.k("get", "endpointslices", "-l", "kubernetes.io/service-name=web",
                                      "-o", "json"))["items"]
        wait_for(lambda: any(not (e.get("conditions") or {}).get("ready")
                             for s in json.loads(cluster.k("get", "endpointslices", "-l",
                                                           "kubernetes.io/service-name=web", "-o", "json"))["items"]
                             for e in s.get("endpoints") or []), 30, "web-unready listed as not ready")
        del slices
        answers = _fetch_loop(cluster, "client", "http://web/", 40)
        assert "FAIL" not in answers and "web-unready" not in answers
    finally:
        cluster.k("delete", "pod", "web-unready", "--wait=false")


def test_rules_are_resynced_not_duplicated_after_the_agent_restarts(cluster: NetCluster) -> None:
    """The agent runs kube-proxy: a crashed agent (SIGKILL: containerd and the pods live on) comes
    back, re-reads the rules it left behind and rewrites them without a duplicate jump."""
    assert not cluster.proxies, "the agent runs the proxy itself: no separate proxy process"
    agent = next(a for a in cluster.agents if a.name == N1)
    log_file = agent.data_dir / "agent.log"
    offset = log_file.stat().st_size
    agent.stop(signal.SIGKILL)
    agent.start()

    def synced_again() -> bool:
        with open(log_file, "rb") as f:
            f.seek(offset)
            return b"iptables rules synced" in f.read()

    wait_for(synced_again, 60, "the restarted agent's proxy synced")
    wait_for(lambda: cluster.node_ready(N1) == "True", 60, f"{N1} Ready again")
    save = cluster.in_node(N1, "iptables-save").stdout
    assert save.count("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES") == 1
    assert save.count("-j KUBE-POSTROUTING") == 1 and save.count("-j KUBE-FORWARD") == 1
    # the node's DNS server is back too (it answers once its informers synced)
    wait_for(lambda: cluster.exec("client", "nslookup", "web.default.svc.cluster.local")[0] == 0, 60,
             "cluster DNS answering again")
    answers = _fetch_loop(cluster, "client", "http://web/", 10)
    assert "FAIL" not in answers


def test_rules_go_when_the_service_goes(cluster: NetCluster) -> None:
    cluster.apply("""apiVersion: v1
kind: Service
metadata:
  name: short-lived
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 81, targetPort: 8080}
""")
    wait_for(lambda: "default/short-lived:http cluster IP" in cluster.in_node(N1, "iptables-save").stdout,
             30, "rules for short-lived")
    cluster.k("delete", "svc", "short-lived")
    wait_for(lambda: "short-lived" not in cluster.in_node(N1, "iptables-save").stdout, 30, "rules removed")


def test_scaled_to_zero_the_service_refuses_at_once(cluster: NetCluster) -> None:
    cluster.k("scale", "deployment", "web", "--replicas=0")
    wait_for(lambda: _ready_endpoints(cluster, "web") == 0, 60, "no endpoints")
    ip = _cluster_ip(cluster, "web")
    wait_for(lambda: "refused" in cluster.exec("client", "sh", "-c", f"timeout 5 wget -qO- http://{ip}/")[1],
             30, "connection refused")
