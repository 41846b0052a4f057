"""The real kubectl against a real `kubelite server` (SQLite, then etcd), asserting on its output."""

from __future__ import annotations

import json
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubelite.testing.kubectl import Kubectl
from kubelite.testing.server import KubeliteServer

M = Path(__file__).parent / "manifests"


@pytest.fixture(scope="module", params=["sqlite", "etcd"])
def kctl(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    cluster = None
    datastore = None
    if request.param == "etcd":
        from kubelite.testing.etcd import EtcdCluster

        cluster = EtcdCluster(size=1).start()
        datastore = cluster.url
    srv = KubeliteServer(datastore=datastore)
    try:
        srv.start()
        k = Kubectl(srv.kubeconfig, home=tmp_path_factory.mktemp("home"))
        yield k
    finally:
        srv.cleanup()
        if cluster is not None:
            cluster.stop()


def ok(k: Kubectl, *args: str, **kw: object) -> str:
    r = k(*args, **kw)  # type: ignore[arg-type]
    assert r.rc == 0, f"kubectl {' '.join(args)} failed: {r.out}"
    return r.stdout


def test_version_reports_the_server(kctl: Kubectl) -> None:
    out = ok(kctl, "version")
    assert "Server Version: v1.32.4+kubelite" in out


def test_api_resources_lists_every_kind(kctl: Kubectl) -> None:
    out = ok(kctl, "api-resources")
    lines = {" ".join(line.split()) for line in out.splitlines()}
    assert "deployments deploy apps/v1 true Deployment" in lines
    assert "nodes no v1 false Node" in lines
    assert "events ev events.k8s.io/v1 true Event" in lines


def test_bootstrap_namespaces_and_kubernetes_service(kctl: Kubectl) -> None:
    out = ok(kctl, "get", "ns")
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert ns in out
    svc = ok(kctl, "get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].port}")
    assert svc == "10.43.0.1 443"


def test_get_in_every_output_format(kctl: Kubectl) -> None:
    assert "pod/web-1 created" in ok(kctl, "create", "-f", str(M / "pod.yaml"))
    table = ok(kctl, "get", "pods")
    assert table.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert table.splitlines()[1].split()[:4] == ["web-1", "0/1", "Pending", "0"]
    wide = ok(kctl, "get", "pods", "-o", "wide")
    assert "NOMINATED NODE" in wide.splitlines()[0]
    yml = ok(kctl, "get", "pod", "web-1", "-o", "yaml")
    assert "kind: Pod" in yml and "uid:" in yml and "protocol: TCP" in yml
    obj = json.loads(ok(kctl, "get", "pod", "web-1", "-o", "json"))
    assert obj["metadata"]["resourceVersion"].isdigit() and obj["status"]["phase"] == "Pending"
    assert ok(kctl, "get", "pods", "-o", "jsonpath={.items[*].metadata.name}") == "web-1"
    all_ns = ok(kctl, "get", "pods", "-A")
    assert all_ns.splitlines()[0].split()[0] == "NAMESPACE"
    assert all_ns.splitlines()[1].split()[:2] == ["default", "web-1"]
    labelled = ok(kctl, "get", "pods", "-l", "app=web", "--show-labels")
    assert "app=web" in labelled
    assert "No resources found" in kctl("get", "pods", "-l", "app=nothing").out
    ok(kctl, "create", "configmap", "zz-sort", "--from-literal=a=b")
    ok(kctl, "create", "configmap", "aa-sort", "--from-literal=a=b")
    names = [line.split()[0] for line in ok(kctl, "get", "cm", "--sort-by=.metadata.name").splitlines()[1:]]
    assert names == sorted(names) and "aa-sort" in names


def _reader(proc: subprocess.Popen[bytes], lines: list[str], done: threading.Event) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        lines.append(raw.decode())
        if "DELETED" in raw.decode():
            done.set()
    done.set()


def test_get_watch_sees_added_modified_deleted(kctl: Kubectl) -> None:
    proc = kctl.popen("get", "configmaps", "-w", "--output-watch-events")
    lines: list[str] = []
    done = threading.Event()
    threading.Thread(target=_reader, args=(proc, lines, done), daemon=True).start()
    try:
        # the watch starts after kubectl's list: wait until its header is printed
        for _ in range(300):
            if lines:
                break
            time.sleep(0.05)
        ok(kctl, "create", "configmap", "watched", "--from-literal=a=b")
        ok(kctl, "label", "configmap", "watched", "x=y")
        ok(kctl, "delete", "configmap", "watched")
        done.wait(30)
    finally:
        proc.terminate()
        proc.wait(10)
    events = [line.split()[:2] for line in lines if "watched" in line]
    assert ["ADDED", "watched"] in events
    assert ["MODIFIED", "watched"] in events
    assert ["DELETED", "watched"] in events


def test_describe_pod_node_deployment_service_namespace(kctl: Kubectl) -> None:
    ok(kctl, "apply", "-f", str(M / "pod.yaml"))
    out = ok(kctl, "describe", "pod", "web-1")
    assert "Name:" in out and "web-1" in out and "Port:         80/TCP" in out
    ok(kctl, "create", "-f", str(M / "node.yaml"))
    out = ok(kctl, "describe", "node", "node1")
    assert "InternalIP:  10.0.0.5" in out and "PodCIDR:" in out and "KubeletReady" in out
    ok(kctl, "apply", "-f", str(M / "deploy.yaml"))
    out = ok(kctl, "describe", "deployment", "web")
    assert "Replicas:               2 desired" in out and "Selector:               app=web" in out
    ok(kctl, "apply", "-f", str(M / "svc.yaml"))
    out = ok(kctl, "describe", "service", "websvc")
    assert "Type:                     NodePort" in out and "NodePort:" in out
    out = ok(kctl, "describe", "namespace", "default")
    assert "Status:       Active" in out
    roles = ok(kctl, "get", "nodes")
    assert roles.splitlines()[1].split()[:3] == ["node1", "Ready", "worker"]


def test_client_side_apply_created_configured_unchanged(kctl: Kubectl, tmp_path: Path) -> None:
    assert "configmap/applied created" in ok(kctl, "apply", "-f", str(M / "cm-apply.yaml"))
    assert "configmap/applied unchanged" in ok(kctl, "apply", "-f", str(M / "cm-apply.yaml"))
    changed = tmp_path / "cm.yaml"
    changed.write_text((M / "cm-apply.yaml").read_text().replace("one", "two"))
    assert "configmap/applied configured" in ok(kctl, "apply", "-f", str(changed))
    assert ok(kctl, "get", "cm", "applied", "-o", "jsonpath={.data.key}") == "two"


def test_server_side_apply_conflict_then_force(kctl: Kubectl) -> None:
    ok(kctl, "apply", "-f", str(M / "deploy-ssa.yaml"))
    ok(kctl, "scale", "deployment", "ssa", "--replicas=2")
    # the client-side-apply manager and kubectl-scale now own .spec.replicas
    r = kctl("apply", "--server-side", "-f", str(M / "deploy-ssa.yaml"))
    assert r.rc != 0 and "conflict" in r.out and ".spec.replicas" in r.out
    assert "serverside-applied" in ok(kctl, "apply", "--server-side", "--force-conflicts",
                                      "-f", str(M / "deploy-ssa.yaml"))
    assert ok(kctl, "get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}") == "4"


def test_server_side_apply_creates_missing_object(kctl: Kubectl, tmp_path: Path) -> None:
    f = tmp_path / "cm.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa-new}\ndata: {a: b}\n")
    assert "configmap/ssa-new serverside-applied" in ok(kctl, "apply", "--server-side", "-f", str(f))
    assert ok(kctl, "get", "cm", "ssa-new", "-o", "jsonpath={.data.a}") == "b"


def test_edit_with_an_editor_script(kctl: Kubectl, tmp_path: Path) -> None:
    ok(kctl, "create", "deployment", "editme", "--image=nginx:1")
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/image: nginx:1/image: nginx:2/' \"$1\"\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    out = ok(kctl, "edit", "deployment", "editme", env={"KUBE_EDITOR": str(editor)})
    assert "deployment.apps/editme edited" in out
    assert ok(kctl, "get", "deploy", "editme", "-o", "jsonpath={.spec.template.spec.containers[0].image} "
              "{.metadata.generation}") == "nginx:2 2"


def test_patch_strategic_merge_and_json(kctl: Kubectl) -> None:
    ok(kctl, "create", "deployment", "patched", "--image=nginx:1")
    ok(kctl, "patch", "deployment", "patched", "-p",
       '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:3"}]}}}}')
    ok(kctl, "patch", "deployment", "patched", "--type=merge", "-p", '{"metadata":{"labels":{"m":"1"}}}')
    ok(kctl, "patch", "deployment", "patched", "--type=json",
       "-p", '[{"op":"replace","path":"/spec/replicas","value":5}]')
    out = ok(kctl, "get", "deploy", "patched", "-o",
             "jsonpath={.spec.template.spec.containers[*].image} {.metadata.labels.m} {.spec.replicas}")
    assert out == "nginx:3 1 5"
    r = kctl("patch", "deployment", "patched", "--type=json", "-p", '[{"op":"test","path":"/spec/replicas","value":9}]')
    assert r.rc != 0


def test_label_annotate_scale(kctl: Kubectl) -> None:
    ok(kctl, "create", "deployment", "scaled", "--image=nginx")
    assert "labeled" in ok(kctl, "label", "deployment", "scaled", "tier=front")
    assert "annotated" in ok(kctl, "annotate", "deployment", "scaled", "note=hello")
    assert "scaled" in ok(kctl, "scale", "deployment", "scaled", "--replicas=3")
    out = ok(kctl, "get", "deploy", "scaled", "-o",
             "jsonpath={.metadata.labels.tier} {.metadata.annotations.note} {.spec.replicas} {.metadata.generation}")
    assert out == "front hello 3 2"
    ok(kctl, "label", "deployment", "scaled", "tier-")
    assert ok(kctl, "get", "deploy", "scaled", "-o", "jsonpath={.metadata.labels}") == '{"app":"scaled"}'


def test_delete_cascade_policies(kctl: Kubectl) -> None:
    for name in ("bg", "fg", "orph"):
        ok(kctl, "create", "deployment", name, "--image=nginx")
    assert 'deployment.apps "bg" deleted' in ok(kctl, "delete", "deployment", "bg")
    assert "NotFound" in kctl("get", "deployment", "bg").out
    ok(kctl, "delete", "deployment", "fg", "--cascade=foreground", "--wait=false")
    out = ok(kctl, "get", "deploy", "fg", "-o", "jsonpath={.metadata.finalizers} {.metadata.deletionTimestamp}")
    assert out.startswith('["foregroundDeletion"] 2')
    ok(kctl, "delete", "deployment", "orph", "--cascade=orphan", "--wait=false")
    assert ok(kctl, "get", "deploy", "orph", "-o", "jsonpath={.metadata.finalizers}") == '["orphan"]'
    # the garbage collector's part: removing the finalizer completes the deletion
    ok(kctl, "patch", "deployment", "orph", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert "NotFound" in kctl("get", "deployment", "orph").out


def test_delete_by_label_all_and_wait(kctl: Kubectl) -> None:
    ok(kctl, "create", "namespace", "deltest")
    for i in range(3):
        ok(kctl, "-n", "deltest", "create", "configmap", f"c{i}", "--from-literal=a=b")
    ok(kctl, "-n", "deltest", "label", "configmap", "c0", "c1", "group=x")
    out = ok(kctl, "-n", "deltest", "delete", "configmap", "-l", "group=x")
    assert 'configmap "c0" deleted' in out and 'configmap "c1" deleted' in out
    assert ok(kctl, "-n", "deltest", "get", "cm", "-o", "name") == "configmap/c2\n"
    out = ok(kctl, "-n", "deltest", "delete", "configmap", "--all", "--wait")
    assert 'configmap "c2" deleted' in out
    assert "No resources found" in kctl("-n", "deltest", "get", "cm").out
    r = kctl("-n", "deltest", "delete", "configmap", "nope")
    assert r.rc != 0 and 'configmaps "nope" not found' in r.stderr


def test_cordon_uncordon(kctl: Kubectl) -> None:
    if "NotFound" in kctl("get", "node", "node1").out:
        ok(kctl, "create", "-f", str(M / "node.yaml"))
    assert "node/node1 cordoned" in ok(kctl, "cordon", "node1")
    assert "Ready,SchedulingDisabled" in ok(kctl, "get", "node", "node1")
    assert "node/node1 uncordoned" in ok(kctl, "uncordon", "node1")
    assert "SchedulingDisabled" not in ok(kctl, "get", "node", "node1")


def test_auth_can_i(kctl: Kubectl) -> None:
    assert ok(kctl, "auth", "can-i", "create", "pods").strip() == "yes"


def test_create_generators_send_protobuf(kctl: Kubectl) -> None:
    ok(kctl, "create", "namespace", "gen")
    ok(kctl, "-n", "gen", "create", "configmap", "cm", "--from-literal=k=v")
    ok(kctl, "-n", "gen", "create", "secret", "generic", "sec", "--from-literal=user=admin")
    ok(kctl, "-n", "gen", "create", "deployment", "dep", "--image=nginx:1", "--replicas=3", "--port=8080")
    ok(kctl, "-n", "gen", "create", "service", "nodeport", "np", "--tcp=80:8080")
    ok(kctl, "-n", "gen", "create", "job", "job", "--image=busybox")
    assert ok(kctl, "-n", "gen", "get", "cm", "cm", "-o", "jsonpath={.data.k}") == "v"
    assert ok(kctl, "-n", "gen", "get", "secret", "sec", "-o", "jsonpath={.type} {.data.user}") == "Opaque YWRtaW4="
    assert ok(kctl, "-n", "gen", "get", "deploy", "dep", "-o",
              "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort} "
              "{.spec.selector.matchLabels.app}") == "3 8080 dep"
    svc = ok(kctl, "-n", "gen", "get", "svc", "np", "-o", "jsonpath={.spec.type} {.spec.ports[0].nodePort}")
    stype, port = svc.split()
    assert stype == "NodePort" and 30000 <= int(port) <= 32767
    assert ok(kctl, "-n", "gen", "get", "job", "job", "-o",
              "jsonpath={.spec.template.spec.containers[0].image}") == "busybox"
    assert "namespace/gen" in ok(kctl, "get", "ns", "gen", "-o", "name")


def test_invalid_object_is_rendered_like_kubernetes(kctl: Kubectl, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec:\n  containers: [{name: c}]\n")
    r = kctl("create", "-f", str(f))
    assert r.rc != 0
    assert 'The Pod "Bad_Name" is invalid' in r.stderr and "metadata.name" in r.stderr


def test_explain_uses_the_openapi_schemas(kctl: Kubectl) -> None:
    out = ok(kctl, "explain", "pods.spec.containers")
    assert "image" in out


def test_terminating_namespace_refuses_new_content(kctl: Kubectl) -> None:
    ok(kctl, "create", "namespace", "doomed")
    ok(kctl, "delete", "namespace", "doomed", "--wait=false")
    assert ok(kctl, "get", "ns", "doomed", "-o", "jsonpath={.status.phase}") == "Terminating"
    r = kctl("-n", "doomed", "create", "configmap", "late", "--from-literal=a=b")
    assert r.rc != 0 and "because it is being terminated" in r.stderr
    r = kctl("-n", "missing-ns", "create", "configmap", "late", "--from-literal=a=b")
    assert r.rc != 0 and 'namespaces "missing-ns" not found' in r.stderr


def test_unauthenticated_kubectl_is_refused(kctl: Kubectl, tmp_path: Path) -> None:
    cfg = Path(kctl.kubeconfig).read_text()
    token_line = next(line for line in cfg.splitlines() if "token:" in line)
    bad = tmp_path / "kubeconfig"
    bad.write_text(cfg.replace(token_line, "    token: wrong"))
    r = kctl("--kubeconfig", str(bad), "get", "pods", env={"KUBECONFIG": str(bad)})
    assert r.rc != 0 and "Unauthorized" in r.stderr


def test_field_validation_strict_and_warn(kctl: Kubectl, tmp_path: Path) -> None:
    f = tmp_path / "unknown.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv}\ndata: {a: b}\nbogus: 1\n")
    r = kctl("create", "-f", str(f))
    assert r.rc != 0 and 'strict decoding error: unknown field "bogus"' in r.stderr
    r = kctl("create", "--validate=warn", "-f", str(f))
    assert r.rc == 0 and 'Warning: unknown field "bogus"' in r.stderr
    r = kctl("create", "--validate=false", "-f", str(f.with_name("unknown.yaml")))
    assert r.rc != 0 and "AlreadyExists" in r.stderr
