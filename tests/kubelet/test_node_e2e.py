"""The node end to end, as a user sees it with the real kubectl: a real `kubelite server` (with
its controllers and scheduler) and a real `kubelite agent` whose containerd and runc run the
pods inside a network namespace this module made. One cluster serves the whole module; the
tests that disturb the node (containerd paused and killed, the agent SIGKILLed, the agent
stopped) come last, in that order.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .nodecluster import AgentProc, Cluster, find_process, one_node_cluster, wait_for

NODE = "e2e-node-1"
BUSYBOX = "kubelite.local/busybox:1.35"
SECTIONS = ["Name:", "Roles:", "Labels:", "Annotations:", "CreationTimestamp:", "Taints:", "Unschedulable:",
            "Lease:", "HolderIdentity:", "RenewTime:", "Conditions:", "Addresses:", "InternalIP:", "Capacity:",
            "Allocatable:", "System Info:", "Kernel Version:", "Container Runtime Version:  containerd://",
            "PodCIDR:", "PodCIDRs:", "Non-terminated Pods:", "Allocated resources:", "Events:"]


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    # The kubelet's own behaviour, without kube-proxy/DNS (tests/network covers those).
    with one_node_cluster(request, NODE, manifests=True, networking=False) as c:
        yield c


def agent(cluster: Cluster) -> AgentProc:
    return cluster.agents[0]


def pod(name: str, body: str, restart: str = "Always", extra: str = "") -> str:
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  restartPolicy: {restart}
  terminationGracePeriodSeconds: 2
{extra}  containers:
{body}"""


#: web must outlive the containerd outage of a later test: with this module's 2 s default
#: tolerations, a loaded machine could stretch the outage past them and evict it
WEB_TOLERATIONS = """  tolerations:
  - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
  - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 300}
"""


def phase(cluster: Cluster, name: str) -> str:
    return str(cluster.pod_status(name).get("phase", ""))


def test_node_is_ready_and_describe_node_shows_every_section(cluster: Cluster) -> None:
    out = cluster.k("get", "nodes")
    assert NODE in out and " Ready " in out
    text = cluster.k("describe", "node", NODE)
    for section in SECTIONS:
        assert section in text, f"describe node lacks {section!r}:\n{text}"
    node = cluster.get("node", NODE)
    assert node is not None
    assert node["status"]["capacity"]["cpu"] == str(os.cpu_count())
    assert node["status"]["capacity"]["pods"] == "110"
    assert int(node["status"]["capacity"]["memory"].removesuffix("Ki")) > 0
    conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conditions == {"NetworkUnavailable": "False", "MemoryPressure": "False", "DiskPressure": "False",
                          "PIDPressure": "False", "Ready": "True"}
    assert ipaddress.ip_network(node["spec"]["podCIDR"]).subnet_of(ipaddress.ip_network("10.42.0.0/16"))
    lease = cluster.get("lease", NODE, "kube-node-lease")
    assert lease is not None and lease["spec"]["holderIdentity"] == NODE


def test_an_httpd_pod_gets_an_ip_from_the_pod_cidr_and_answers_another_pod(cluster: Cluster) -> None:
    cluster.apply(pod("web", f"""  - name: web
    image: {BUSYBOX}
    command: [sh, -c, "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{{containerPort: 8080}}]
    readinessProbe: {{tcpSocket: {{port: 8080}}, periodSeconds: 1}}
""", extra=WEB_TOLERATIONS))
    wait_for(lambda: cluster.container_status("web").get("ready"), 60, "web ready")
    ip = cluster.pod_status("web")["podIP"]
    node = cluster.get("node", NODE)
    assert node is not None
    assert ipaddress.ip_address(ip) in ipaddress.ip_network(node["spec"]["podCIDR"])
    cluster.apply(pod("client", f"""  - name: client
    image: {BUSYBOX}
    command: [sh, -c, "timeout 5 wget -qO- http://{ip}:8080/ | grep -q hello-from-web"]
""", restart="Never"))
    assert wait_for(lambda: phase(cluster, "client") in ("Succeeded", "Failed") and phase(cluster, "client"),
                    60, "client done") == "Succeeded"
    out = cluster.k("get", "pod", "web", "-o", "wide")
    assert ip in out and NODE in out and "1/1" in out and "Running" in out


def test_two_containers_of_a_pod_share_localhost_and_an_empty_dir(cluster: Cluster) -> None:
    cluster.apply(pod("pair", f"""  - name: server
    image: {BUSYBOX}
    command: [sh, -c, "mkdir -p /www && exec httpd -f -p 9090 -h /www"]
    volumeMounts: [{{name: shared, mountPath: /www}}]
  - name: writer
    image: {BUSYBOX}
    command: [sh, -c, "echo shared-by-volume > /data/index.html; until timeout 2 wget -qO- http://127.0.0.1:9090/ | grep -q shared-by-volume; do sleep 0.3; done; touch /data/ok; exec sleep 3600"]
    volumeMounts: [{{name: shared, mountPath: /data}}]
    readinessProbe: {{exec: {{command: [cat, /data/ok]}}, periodSeconds: 1}}
""", extra="  volumes: [{name: shared, emptyDir: {}}]\n"))
    wait_for(lambda: "2/2" in cluster.k("get", "pod", "pair"), 60, "both containers ready")


def test_env_and_a_configmap_volume_reach_the_container(cluster: Cluster) -> None:
    cluster.apply("""apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello-env, file.txt: hello-file}
""")
    check = ('[ "$GREETING" = hello-env ] && [ "$(cat /etc/settings/file.txt)" = hello-file ] && '
             '[ "$POD_NAME" = envpod ] && [ "$MEM_MI" = 32 ] && [ "$PLAIN" = plain-value ]')
    cluster.apply(pod("envpod", f"""  - name: main
    image: {BUSYBOX}
    command: [sh, -c, '{check}']
    resources: {{limits: {{memory: 32Mi}}}}
    env:
    - {{name: PLAIN, value: plain-value}}
    - {{name: GREETING, valueFrom: {{configMapKeyRef: {{name: settings, key: greeting}}}}}}
    - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
    - {{name: MEM_MI, valueFrom: {{resourceFieldRef: {{resource: limits.memory, divisor: 1Mi}}}}}}
    volumeMounts: [{{name: settings, mountPath: /etc/settings}}]
""", restart="Never", extra="  volumes: [{name: settings, configMap: {name: settings}}]\n"))
    assert wait_for(lambda: phase(cluster, "envpod") in ("Succeeded", "Failed") and phase(cluster, "envpod"),
                    60, "envpod done") == "Succeeded"


def test_an_exiting_container_is_restarted_then_crash_loops(cluster: Cluster) -> None:
    cluster.apply(pod("crasher", f"""  - name: main
    image: {BUSYBOX}
    command: [sh, -c, "exit 3"]
"""))
    wait_for(lambda: cluster.container_status("crasher").get("restartCount", 0) >= 2, 90, "two restarts")
    cs = wait_for(lambda: (s := cluster.container_status("crasher")).get("state", {}).get("waiting", {}).get(
        "reason") == "CrashLoopBackOff" and s, 60, "CrashLoopBackOff")
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert "CrashLoopBackOff" in cluster.k("get", "pod", "crasher")
    events = cluster.k("get", "events", "--field-selector", "involvedObject.name=crasher")
    assert "BackOff" in events


def test_a_container_past_its_memory_limit_is_oom_killed(cluster: Cluster) -> None:
    cluster.apply(pod("hog", f"""  - name: main
    image: {BUSYBOX}
    command: [sh, -c, "x=$(head -c 200000000 /dev/zero | tr '\\\\0' a); echo survived"]
    resources: {{limits: {{memory: 20Mi}}}}
""", restart="Never"))
    state = wait_for(lambda: cluster.container_status("hog").get("state", {}).get("terminated"), 60, "hog ends")
    assert state["reason"] == "OOMKilled" and state["exitCode"] == 137
    assert "OOMKilled" in cluster.k("get", "pod", "hog")


def _cgroup_dir(pid: int, controller: str) -> Path:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    raise AssertionError(f"no {controller} cgroup for {pid}")


def _cpu_stat(directory: Path) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in (directory / "cpu.stat").read_text().splitlines())}


def test_a_cpu_limit_is_enforced_by_throttling(cluster: Cluster) -> None:
    marker = "cpu-burner-7781"
    cluster.apply(pod("burner", f"""  - name: main
    image: {BUSYBOX}
    command: [sh, -c, "while :; do :; done # {marker}"]
    resources: {{limits: {{cpu: 100m}}}}
"""))
    wait_for(lambda: phase(cluster, "burner") == "Running", 60, "burner running")
    pid = wait_for(lambda: find_process(marker), 30, "burner process")
    cgroup = _cgroup_dir(pid, "cpu")
    assert int((cgroup / "cpu.cfs_quota_us").read_text()) == 10000
    assert int((cgroup / "cpu.cfs_period_us").read_text()) == 100000
    stat = wait_for(lambda: (s := _cpu_stat(cgroup))["nr_throttled"] >= 5 and s, 30, "throttling")
    assert stat["throttled_time"] > 0
    cluster.k("delete", "pod", "burner", "--wait=false")


def test_liveness_failure_restarts_and_readiness_failure_flips_ready(cluster: Cluster) -> None:
    cluster.apply(pod("alive", f"""  - name: main
    image: {BUSYBOX}
    command: [sh, -c, "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600"]
    livenessProbe: {{exec: {{command: [cat, /tmp/healthy]}}, periodSeconds: 1, failureThreshold: 2}}
"""))
    cluster.apply(pod("ready", f"""  - name: main
    image: {BUSYBOX}
    command: [sh, -c, "sleep 1; touch /tmp/ready; sleep 6; rm /tmp/ready; exec sleep 3600"]
    readinessProbe: {{exec: {{command: [cat, /tmp/ready]}}, periodSeconds: 1}}
"""))
    wait_for(lambda: cluster.container_status("ready").get("ready") is True, 60, "ready")
    wait_for(lambda: cluster.container_status("ready").get("ready") is False, 60, "not ready again")
    ready = {c["type"]: c["status"] for c in cluster.pod_status("ready")["conditions"]}
    assert ready["Ready"] == "False" and phase(cluster, "ready") == "Running"
    wait_for(lambda: cluster.container_status("alive").get("restartCount", 0) >= 1, 60, "liveness restart")
    events = cluster.k("get", "events", "--field-selector", "involvedObject.name=alive")
    assert "Unhealthy" in events and "failed liveness probe, will be restarted" in events


STATIC = """apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels: {{app: static}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: kubelite.local/busybox:1.35
    command: [sh, -c, "exec sleep {seconds}"]
"""


def test_a_static_pod_file_creates_changes_and_removes_a_pod_and_its_mirror(cluster: Cluster) -> None:
    manifests = agent(cluster).manifests
    assert manifests is not None
    mirror = f"static-web-{NODE}"
    (manifests / "web.yaml").write_text(STATIC.format(seconds=3600))
    first = wait_for(lambda: (p := cluster.get("pod", mirror)) and p["status"].get("phase") == "Running" and p,
                     60, "mirror pod Running")
    annotations = first["metadata"]["annotations"]
    assert annotations["kubernetes.io/config.source"] == "file" and annotations["kubernetes.io/config.mirror"]
    # deleting the mirror while the file exists brings it back
    cluster.k("delete", "pod", mirror, "--wait=false")
    wait_for(lambda: (p := cluster.get("pod", mirror)) and p["metadata"]["uid"] != first["metadata"]["uid"]
             and not p["metadata"].get("deletionTimestamp"), 60, "mirror recreated")
    # a changed file restarts the pod under a new hash
    (manifests / "web.yaml").write_text(STATIC.format(seconds=7200))
    changed = wait_for(lambda: (p := cluster.get("pod", mirror)) and p["metadata"]["annotations"][
        "kubernetes.io/config.mirror"] != annotations["kubernetes.io/config.mirror"]
        and p["status"].get("phase") == "Running" and p, 60, "changed static pod")
    assert "7200" in " ".join(changed["spec"]["containers"][0]["command"])
    wait_for(lambda: len(agent(cluster).container_ids(mirror)) == 2, 60, "old static pod's containers removed")
    # a removed file stops the pod and removes its mirror
    (manifests / "web.yaml").unlink()
    wait_for(lambda: cluster.get("pod", mirror) is None, 60, "mirror removed")
    wait_for(lambda: not agent(cluster).container_ids(mirror), 60, "static pod's containers removed")


def test_a_deleted_pod_runs_pre_stop_and_ends_within_its_grace_period(cluster: Cluster) -> None:
    marks = cluster.root / "marks"
    marks.mkdir()
    cluster.apply(pod("leaver", f"""  - name: main
    image: {BUSYBOX}
    command: [sleep, "3600"]
    lifecycle: {{preStop: {{exec: {{command: [sh, -c, "echo stopping > /marks/prestop"]}}}}}}
    volumeMounts: [{{name: marks, mountPath: /marks}}]
""", extra=f"  volumes: [{{name: marks, hostPath: {{path: {marks}}}}}]\n"))
    wait_for(lambda: phase(cluster, "leaver") == "Running", 60, "leaver running")
    # `sleep` as PID 1 ignores SIGTERM: only the SIGKILL at the end of the 2 s grace period stops it
    started = time.monotonic()
    cluster.k("delete", "pod", "leaver", "--timeout=60s")
    elapsed = time.monotonic() - started
    assert elapsed < 20, f"deletion took {elapsed:.1f}s with a 2s grace period (default would be 30s)"
    assert (marks / "prestop").read_text().strip() == "stopping"
    wait_for(lambda: not agent(cluster).container_ids("leaver"), 30, "leaver's containers removed")
    events = cluster.k("get", "events", "--field-selector", "involvedObject.name=leaver")
    assert "Killing" in events


def test_the_node_is_not_ready_while_containerd_does_not_answer(cluster: Cluster) -> None:
    node_agent = agent(cluster)
    pid = node_agent.containerd_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: cluster.node_ready(NODE) == "False", 60, "NotReady")
        node = cluster.get("node", NODE)
        assert node is not None
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert "runtime" in ready["message"]
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: cluster.node_ready(NODE) == "True", 60, "Ready again")
    # containerd killed outright: the agent's supervisor restarts it and the pods keep running
    os.kill(pid, signal.SIGKILL)
    new_pid = wait_for(lambda: (p := node_agent.containerd_pid()) and p != pid and p, 60, "containerd restarted")
    assert new_pid != pid
    wait_for(lambda: cluster.node_ready(NODE) == "True", 60, "Ready after the restart")
    assert phase(cluster, "web") == "Running"


def test_a_stopped_node_goes_not_ready_and_its_replicaset_pods_come_back_on_another_node(cluster: Cluster) -> None:
    cluster.apply(f"""apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: rs}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: rs}}}}
  template:
    metadata: {{labels: {{app: rs}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {{name: main, image: {BUSYBOX}, command: [sleep, "3600"]}}
""")

    def rs_pods() -> list[tuple[str, str, str]]:
        out = cluster.k("get", "pods", "-l", "app=rs", "-o",
                        "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase} "
                        "{.metadata.deletionTimestamp}{\"\\n\"}{end}")
        rows = [(line.split() + ["", "", ""])[:3] for line in out.splitlines() if line.strip()]
        return [(r[0], r[1], r[2]) for r in rows]

    wait_for(lambda: [p for p in rs_pods() if p[0] == NODE and p[1] == "Running"].__len__() == 2, 60,
             "rs pods running on the first node")
    second = cluster.add_agent("e2e-node-2", networking=False)
    wait_for(lambda: cluster.node_ready("e2e-node-2") == "True", 90, "second node Ready")
    agent(cluster).stop()
    wait_for(lambda: cluster.node_ready(NODE) in ("False", "Unknown"), 60, "first node NotReady")
    assert "NotReady" in cluster.k("get", "node", NODE)
    wait_for(lambda: len([p for p in rs_pods() if p[0] == "e2e-node-2" and p[1] == "Running" and not p[2]]) == 2,
             120, "rs pods running on the second node")
    assert second.container_ids()
