"""PATCH semantics as kubectl exercises them: merge, JSON, strategic merge, server-side apply."""

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubelite.api.patch import (
    ApplyConflict,
    PatchError,
    PatchTestFailed,
    json_patch,
    merge_patch,
    merge_patch_diff,
    record_update_manager,
    server_side_apply,
    strategic_merge_patch,
)

# ---------------------------------------------------------------------------------------------
# JSON merge patch

MERGE_CASES = [
    ("kubectl label adds a label", {"metadata": {"name": "p"}}, {"metadata": {"labels": {"env": "prod"}}},
     {"metadata": {"name": "p", "labels": {"env": "prod"}}}),
    ("null removes a label", {"metadata": {"labels": {"env": "prod", "a": "b"}}},
     {"metadata": {"labels": {"env": None}}}, {"metadata": {"labels": {"a": "b"}}}),
    ("lists are replaced whole", {"a": [1, 2, 3]}, {"a": [4]}, {"a": [4]}),
    ("a scalar replaces a map", {"a": {"b": 1}}, {"a": 5}, {"a": 5}),
    ("a map replaces a scalar", {"a": 5}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ("null for a missing key is a no-op", {"a": 1}, {"b": None}, {"a": 1}),
    ("nulls inside a new map are dropped", {}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ("a non-object patch replaces the document", {"a": 1}, ["x"], ["x"]),
    ("an empty patch changes nothing", {"a": 1}, {}, {"a": 1}),
]


@pytest.mark.parametrize(("case", "target", "patch", "want"), MERGE_CASES, ids=[c[0] for c in MERGE_CASES])
def test_merge_patch(case: str, target: Any, patch: Any, want: Any) -> None:
    before = copy.deepcopy(target)
    assert merge_patch(target, patch) == want
    assert target == before, "the input must not be mutated"


_json_scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_docs = st.recursive(
    _json_scalars | st.lists(_json_scalars, max_size=3),
    lambda children: st.dictionaries(st.sampled_from("abcd"), children, max_size=4),
    max_leaves=12,
).filter(lambda d: isinstance(d, dict))


@given(_docs, _docs)
def test_merge_patch_of_a_diff_yields_the_second_document(a: dict, b: dict) -> None:
    assert merge_patch(a, merge_patch_diff(a, b)) == b


@given(_docs)
def test_a_document_is_a_merge_patch_fixed_point_of_itself(a: dict) -> None:
    assert merge_patch(a, a) == a
    assert merge_patch_diff(a, a) == {}


# ---------------------------------------------------------------------------------------------
# JSON patch (RFC 6902)

DOC = {"metadata": {"name": "p", "labels": {"a/b": "1", "m~n": "2"}}, "spec": {"list": [1, 2, 3]}}

JSON_CASES = [
    ("add appends with a dash", [{"op": "add", "path": "/spec/list/-", "value": 4}], ["spec", "list"], [1, 2, 3, 4]),
    ("add inserts at an index", [{"op": "add", "path": "/spec/list/0", "value": 0}], ["spec", "list"],
     [0, 1, 2, 3]),
    ("add sets a new key", [{"op": "add", "path": "/spec/x", "value": {"y": 1}}], ["spec", "x"], {"y": 1}),
    ("remove deletes an element", [{"op": "remove", "path": "/spec/list/1"}], ["spec", "list"], [1, 3]),
    ("~1 escapes a slash", [{"op": "replace", "path": "/metadata/labels/a~1b", "value": "9"}],
     ["metadata", "labels", "a/b"], "9"),
    ("~0 escapes a tilde", [{"op": "remove", "path": "/metadata/labels/m~0n"}], ["metadata", "labels"],
     {"a/b": "1"}),
    ("move relocates a value", [{"op": "move", "from": "/spec/list", "path": "/spec/moved"}], ["spec"],
     {"moved": [1, 2, 3]}),
    ("copy duplicates a value", [{"op": "copy", "from": "/metadata/name", "path": "/spec/name"}],
     ["spec", "name"], "p"),
    ("a passing test lets the patch apply",
     [{"op": "test", "path": "/metadata/name", "value": "p"}, {"op": "replace", "path": "/metadata/name",
                                                               "value": "q"}],
     ["metadata", "name"], "q"),
    ("test compares numbers as JSON does", [{"op": "test", "path": "/spec/list/0", "value": 1.0}],
     ["spec", "list"], [1, 2, 3]),
    ("kubectl's managedFields migration replaces two fields",
     [{"op": "replace", "path": "/metadata/name", "value": "x"},
      {"op": "add", "path": "/metadata/resourceVersion", "value": "7"}],
     ["metadata", "resourceVersion"], "7"),
]


@pytest.mark.parametrize(("case", "ops", "where", "want"), JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_json_patch(case: str, ops: list, where: list[str], want: Any) -> None:
    before = copy.deepcopy(DOC)
    got = json_patch(DOC, ops)
    for k in where:
        got = got[k]
    assert got == want
    assert before == DOC


JSON_ERRORS = [
    ("a missing path to remove", [{"op": "remove", "path": "/nope"}], "does not exist"),
    ("an index out of range", [{"op": "add", "path": "/spec/list/9", "value": 1}], "out of bounds"),
    ("a leading-zero index", [{"op": "remove", "path": "/spec/list/01"}], "invalid array index"),
    ("a pointer without a slash", [{"op": "remove", "path": "spec"}], "must start with '/'"),
    ("a bad tilde escape", [{"op": "remove", "path": "/a~2"}], "'~' must be followed"),
    ("an unknown op", [{"op": "frob", "path": "/a"}], "unsupported op 'frob'"),
    ("add without a value", [{"op": "add", "path": "/a"}], "missing 'value'"),
    ("move without from", [{"op": "move", "path": "/a"}], "missing 'from'"),
    ("an op without a path", [{"op": "remove"}], "missing 'path'"),
    ("replace of a missing key", [{"op": "replace", "path": "/spec/nope", "value": 1}], "missing key"),
    ("moving a value into itself", [{"op": "move", "from": "/spec", "path": "/spec/x"}], "own child"),
    ("a patch that is not a list", {"op": "add"}, "must be a list"),
    ("an operation that is not an object", ["add"], "must be an object"),
]


@pytest.mark.parametrize(("case", "ops", "msg"), JSON_ERRORS, ids=[c[0] for c in JSON_ERRORS])
def test_json_patch_errors(case: str, ops: Any, msg: str) -> None:
    with pytest.raises(PatchError, match=msg) as exc:
        json_patch(DOC, ops)
    assert not isinstance(exc.value, PatchTestFailed)


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/metadata/name", "value": "other"}],
    [{"op": "test", "path": "/nope", "value": 1}],
    [{"op": "test", "path": "/spec/list/0", "value": True}],
], ids=["a different value", "a missing path", "a boolean is not a number"])
def test_a_failing_test_op_raises_patch_test_failed(ops: list) -> None:
    with pytest.raises(PatchTestFailed, match="testing value"):
        json_patch(DOC, ops)


# ---------------------------------------------------------------------------------------------
# Strategic merge patch


def pod(*containers: dict, **spec: Any) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": list(containers), **spec}}


def c(name: str, image: str = "busybox", **kw: Any) -> dict:
    return {"name": name, "image": image, **kw}


def smp(obj: dict, patch: dict, av: str = "v1", kind: str = "Pod") -> dict:
    before = copy.deepcopy(obj)
    patch_before = copy.deepcopy(patch)
    out = strategic_merge_patch(obj, patch, av, kind)
    assert obj == before and patch == patch_before, "inputs must not be mutated"
    return out


SMP_CASES: list[tuple[str, dict, dict, Any]] = [
    ("kubectl edit changes one container's image and keeps the others",
     pod(c("c1", "nginx:1"), c("c2", "redis")),
     {"spec": {"$setElementOrder/containers": [{"name": "c1"}, {"name": "c2"}],
               "containers": [{"image": "nginx:2", "name": "c1"}]}},
     {"containers": [c("c1", "nginx:2"), c("c2", "redis")]}),
    ("a new container is appended",
     pod(c("c1")), {"spec": {"containers": [c("c2")]}}, {"containers": [c("c1"), c("c2")]}),
    ("$patch delete removes one container",
     pod(c("c1"), c("c2")), {"spec": {"containers": [{"$patch": "delete", "name": "c1"}]}},
     {"containers": [c("c2")]}),
    ("$patch replace in a list replaces the whole list",
     pod(c("c1"), c("c2")), {"spec": {"containers": [c("c3"), {"$patch": "replace"}]}},
     {"containers": [c("c3")]}),
    ("$setElementOrder alone reorders the list",
     pod(c("a"), c("b"), c("c")), {"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "b"},
                                                                             {"name": "a"}]}},
     {"containers": [c("c"), c("b"), c("a")]}),
    ("$setElementOrder places a new container where asked",
     pod(c("a"), c("b")), {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "new"},
                                                                     {"name": "b"}],
                                    "containers": [c("new")]}},
     {"containers": [c("a"), c("new"), c("b")]}),
    ("env merges by name",
     pod(c("c", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
     {"spec": {"containers": [{"name": "c", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}]}},
     {"containers": [c("c", env=[{"name": "A", "value": "1"}, {"name": "B", "value": "3"},
                                 {"name": "C", "value": "4"}])]}),
    ("container ports merge by containerPort and protocol",
     pod(c("c", ports=[{"containerPort": 53, "protocol": "TCP"}])),
     {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 53, "protocol": "UDP"},
                                                      {"containerPort": 53, "name": "dns-tcp"}]}]}},
     {"containers": [c("c", ports=[{"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"},
                                   {"containerPort": 53, "protocol": "UDP"}])]}),
    ("volume mounts merge by mountPath",
     pod(c("c", volumeMounts=[{"name": "v", "mountPath": "/a"}])),
     {"spec": {"containers": [{"name": "c", "volumeMounts": [{"mountPath": "/a", "readOnly": True}]}]}},
     {"containers": [c("c", volumeMounts=[{"name": "v", "mountPath": "/a", "readOnly": True}])]}),
    ("tolerations are atomic and replaced",
     pod(c("c"), tolerations=[{"key": "a", "operator": "Exists"}]),
     {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}},
     {"containers": [c("c")], "tolerations": [{"key": "b", "operator": "Exists"}]}),
    ("container args are atomic and replaced",
     pod(c("c", args=["a", "b"])), {"spec": {"containers": [{"name": "c", "args": ["z"]}]}},
     {"containers": [c("c", args=["z"])]}),
    ("null deletes a field",
     pod(c("c"), nodeSelector={"a": "b"}), {"spec": {"nodeSelector": None}}, {"containers": [c("c")]}),
    ("$patch delete on a map removes it",
     pod(c("c"), affinity={"nodeAffinity": {}}), {"spec": {"affinity": {"$patch": "delete"}}},
     {"containers": [c("c")]}),
    ("$patch replace on a map replaces it",
     pod(c("c"), securityContext={"runAsUser": 1, "fsGroup": 2}),
     {"spec": {"securityContext": {"$patch": "replace", "runAsUser": 5}}},
     {"containers": [c("c")], "securityContext": {"runAsUser": 5}}),
    ("volumes with $retainKeys drop the old volume source",
     pod(c("c"), volumes=[{"name": "v", "emptyDir": {}}]),
     {"spec": {"volumes": [{"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}},
     {"containers": [c("c")], "volumes": [{"name": "v", "configMap": {"name": "cm"}}]}),
]


@pytest.mark.parametrize(("case", "obj", "patch", "spec"), SMP_CASES, ids=[c[0] for c in SMP_CASES])
def test_strategic_merge_patch_on_pods(case: str, obj: dict, patch: dict, spec: Any) -> None:
    assert smp(obj, patch)["spec"] == spec


def test_finalizers_merge_and_delete_from_primitive_list() -> None:
    obj = {"metadata": {"name": "x", "finalizers": ["a", "b"]}}
    out = smp(obj, {"metadata": {"finalizers": ["c", "a"], "$deleteFromPrimitiveList/finalizers": ["b"]}})
    assert out["metadata"]["finalizers"] == ["a", "c"]


def test_owner_references_merge_by_uid() -> None:
    obj = {"metadata": {"name": "x", "ownerReferences": [{"uid": "1", "name": "rs-a"}]}}
    out = smp(obj, {"metadata": {"ownerReferences": [{"uid": "2", "name": "rs-b"},
                                                     {"uid": "1", "controller": True}]}}, "apps/v1", "ReplicaSet")
    assert out["metadata"]["ownerReferences"] == [{"uid": "1", "name": "rs-a", "controller": True},
                                                 {"uid": "2", "name": "rs-b"}]


def test_deployment_template_containers_merge_by_name_and_strategy_retains_keys() -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                    "template": {"spec": {"containers": [c("web", "nginx:1"), c("side")]}}}}
    out = smp(dep, {"spec": {"replicas": 3, "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                             "template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}},
              "apps/v1", "Deployment")
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert out["spec"]["template"]["spec"]["containers"] == [c("web", "nginx:2"), c("side")]


def test_service_ports_merge_by_port() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}
    out = smp(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}}, "v1", "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090, "protocol": "TCP"}, {"port": 443}]


def test_node_status_conditions_and_addresses_merge_by_type_and_cordon_uncordon() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
            "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure",
                                                                           "status": "False"}],
                       "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}
    out = smp(node, {"status": {"conditions": [{"type": "Ready", "status": "False"}],
                                "addresses": [{"type": "Hostname", "address": "n"}]}}, "v1", "Node")
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "False"},
                                           {"type": "DiskPressure", "status": "False"}]
    assert [a["type"] for a in out["status"]["addresses"]] == ["InternalIP", "Hostname"]
    cordoned = smp(node, {"spec": {"unschedulable": True}}, "v1", "Node")
    assert cordoned["spec"]["unschedulable"] is True
    assert "unschedulable" not in smp(cordoned, {"spec": {"unschedulable": None}}, "v1", "Node")["spec"]
    taints = smp(node, {"spec": {"taints": [{"key": "b", "effect": "NoExecute"}]}}, "v1", "Node")
    assert taints["spec"]["taints"] == [{"key": "b", "effect": "NoExecute"}], "taints are atomic"


def test_an_unknown_kind_replaces_lists_like_a_merge_patch() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"containers": [c("a")], "m": {"x": 1}}}
    out = smp(obj, {"spec": {"containers": [c("b")], "m": {"y": 2}}}, "example.com/v1", "Widget")
    assert out["spec"] == {"containers": [c("b")], "m": {"x": 1, "y": 2}}


SMP_ERRORS = [
    ("a list item without its merge key", {"spec": {"containers": [{"image": "x"}]}}, "merge key: name"),
    ("an unknown $patch value", {"spec": {"$patch": "frobnicate"}}, "unknown patch type"),
    ("an unknown directive", {"spec": {"$frob/containers": []}}, "unknown directive"),
    ("a field outside $retainKeys", {"spec": {"$retainKeys": ["a"], "b": 1}}, "not in the \\$retainKeys"),
    ("a non-list $setElementOrder", {"spec": {"$setElementOrder/containers": "c1"}}, "must be a list"),
    ("a container that is not an object", {"spec": {"containers": ["c1"]}}, "expected a list of objects"),
]


@pytest.mark.parametrize(("case", "patch", "msg"), SMP_ERRORS, ids=[c[0] for c in SMP_ERRORS])
def test_strategic_merge_patch_errors(case: str, patch: dict, msg: str) -> None:
    with pytest.raises(PatchError, match=msg):
        strategic_merge_patch(pod(c("c1")), patch, "v1", "Pod")


def test_a_non_object_strategic_patch_is_rejected() -> None:
    with pytest.raises(PatchError, match="must be a JSON object"):
        strategic_merge_patch(pod(), [], "v1", "Pod")  # type: ignore[arg-type]


_maps = st.recursive(_json_scalars, lambda ch: st.dictionaries(st.sampled_from("abc"), ch, max_size=3),
                     max_leaves=8).filter(lambda d: isinstance(d, dict))


@given(_maps, _maps)
def test_without_lists_a_strategic_patch_equals_a_merge_patch(a: dict, b: dict) -> None:
    patch = merge_patch_diff(a, b)
    assert strategic_merge_patch(a, patch, "v1", "ConfigMap") == merge_patch(a, patch) == b


# ---------------------------------------------------------------------------------------------
# Server-side apply and managedFields


def deployment(replicas: int = 2, image: str = "nginx:1", **extra: Any) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "nginx", "image": image, **extra}]}}}}


def ssa(live: dict | None, applied: dict, manager: str = "kubectl", force: bool = False) -> dict:
    return server_side_apply(live, applied, manager, force, "apps/v1", "Deployment")


def managers(obj: dict) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def owned(obj: dict, manager: str) -> dict:
    return next(e["fieldsV1"] for e in obj["metadata"]["managedFields"] if e["manager"] == manager)


def test_apply_creates_the_object_and_records_kubernetes_style_managed_fields() -> None:
    out = ssa(None, deployment())
    assert out["spec"]["replicas"] == 2
    (entry,) = out["metadata"]["managedFields"]
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
    assert entry["manager"] == "kubectl" and entry["operation"] == "Apply" and entry["apiVersion"] == "apps/v1"
    assert entry["time"].endswith("Z")
    f = entry["fieldsV1"]
    assert f["f:spec"]["f:replicas"] == {}
    assert f["f:metadata"] == {"f:labels": {"f:app": {}}}, "name and namespace belong to nobody"
    item = f["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert item == {".": {}, "f:image": {}, "f:name": {}}
    assert "f:apiVersion" not in f and "f:kind" not in f


def test_reapplying_the_same_configuration_is_idempotent() -> None:
    once = ssa(None, deployment())
    twice = ssa(once, deployment())
    assert twice["spec"] == once["spec"]
    assert managers(twice) == [("kubectl", "Apply")]


def test_apply_conflicts_with_client_side_apply_on_replicas() -> None:
    live = deployment(replicas=2)
    record_update_manager(None, live, "kubectl-client-side-apply", "apps/v1")
    with pytest.raises(ApplyConflict) as exc:
        ssa(live, deployment(replicas=3))
    assert exc.value.conflicts == [(".spec.replicas", "kubectl-client-side-apply")]
    assert exc.value.causes() == [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                                   "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]
    assert "Apply failed with 1 conflict" in str(exc.value)


def test_a_changed_image_conflicts_with_its_path_in_kubernetes_notation() -> None:
    live = ssa(None, deployment(image="nginx:1"), manager="alice")
    with pytest.raises(ApplyConflict) as exc:
        ssa(live, deployment(image="nginx:2"), manager="bob")
    assert exc.value.conflicts == [('.spec.template.spec.containers[name="nginx"].image', "alice")]


def test_applying_the_same_value_as_another_manager_shares_ownership() -> None:
    live = ssa(None, deployment(replicas=2), manager="alice")
    out = ssa(live, deployment(replicas=2), manager="bob")
    assert managers(out) == [("alice", "Apply"), ("bob", "Apply")]
    assert "f:replicas" in owned(out, "alice")["f:spec"] and "f:replicas" in owned(out, "bob")["f:spec"]


def test_force_takes_the_conflicting_field_from_the_other_manager() -> None:
    live = deployment(replicas=2)
    record_update_manager(None, live, "kubectl-client-side-apply", "apps/v1")
    out = ssa(live, deployment(replicas=5), force=True)
    assert out["spec"]["replicas"] == 5
    assert "f:replicas" not in owned(out, "kubectl-client-side-apply")["f:spec"]
    assert "f:replicas" in owned(out, "kubectl")["f:spec"]


def test_a_field_the_manager_stops_applying_is_removed() -> None:
    live = ssa(None, deployment(args=["-v"]))
    out = ssa(live, deployment())
    assert "args" not in out["spec"]["template"]["spec"]["containers"][0]


def test_a_field_the_manager_stops_applying_stays_when_another_manager_owns_it() -> None:
    live = ssa(None, deployment(args=["-v"]), manager="alice")
    live = ssa(live, deployment(args=["-v"]), manager="bob")
    out = ssa(live, deployment(), manager="alice")
    assert out["spec"]["template"]["spec"]["containers"][0]["args"] == ["-v"]


def test_a_container_the_manager_stops_applying_is_removed() -> None:
    two = deployment()
    two["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    live = ssa(None, two)
    out = ssa(live, deployment())
    assert [x["name"] for x in out["spec"]["template"]["spec"]["containers"]] == ["nginx"]


def test_fields_written_by_others_survive_an_apply() -> None:
    live = ssa(None, deployment())
    scaled = copy.deepcopy(live)
    scaled["metadata"]["annotations"] = {"note": "x"}
    record_update_manager(live, scaled, "kubectl-annotate", "apps/v1")
    out = ssa(scaled, deployment())
    assert out["metadata"]["annotations"] == {"note": "x"}


def test_an_update_takes_ownership_of_the_fields_it_changed() -> None:
    live = ssa(None, deployment(replicas=2))
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 4
    record_update_manager(live, scaled, "kubectl-scale", "apps/v1")
    assert managers(scaled) == [("kubectl", "Apply"), ("kubectl-scale", "Update")]
    assert owned(scaled, "kubectl-scale") == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in owned(scaled, "kubectl")["f:spec"]
    # Re-applying the old value now conflicts with the scaler.
    with pytest.raises(ApplyConflict) as exc:
        ssa(scaled, deployment(replicas=2))
    assert exc.value.conflicts == [(".spec.replicas", "kubectl-scale")]


def test_an_update_that_changes_nothing_records_no_manager() -> None:
    live = ssa(None, deployment())
    same = copy.deepcopy(live)
    record_update_manager(live, same, "kubectl-edit", "apps/v1")
    assert managers(same) == [("kubectl", "Apply")]


def test_a_client_may_replace_managed_fields_explicitly() -> None:
    live = deployment()
    record_update_manager(None, live, "kubectl-client-side-apply", "apps/v1")
    migrated = json_patch(live, [{"op": "replace", "path": "/metadata/managedFields", "value": [
        {**live["metadata"]["managedFields"][0], "manager": "kubectl", "operation": "Apply"}]}])
    record_update_manager(live, migrated, "kubectl", "apps/v1")
    assert managers(migrated) == [("kubectl", "Apply")]
    out = ssa(migrated, deployment(replicas=7))
    assert out["spec"]["replicas"] == 7


def test_record_update_on_create_owns_everything_but_server_metadata() -> None:
    obj = deployment()
    obj["metadata"].update({"uid": "u", "resourceVersion": "1", "creationTimestamp": "2024-01-01T00:00:00Z"})
    record_update_manager(None, obj, "kubectl-create", "apps/v1")
    f = owned(obj, "kubectl-create")
    assert set(f["f:metadata"]) == {"f:labels"}
    assert json.dumps(f).count("f:replicas") == 1


def test_apply_rejects_a_non_object_configuration() -> None:
    with pytest.raises(PatchError, match="must be a JSON/YAML object"):
        server_side_apply(None, ["x"], "kubectl", False, "apps/v1", "Deployment")  # type: ignore[arg-type]


def test_a_label_the_manager_stops_applying_is_removed_and_an_emptied_map_goes_too() -> None:
    cfg = deployment()
    cfg["metadata"]["annotations"] = {"team": "a"}
    live = ssa(None, cfg)
    out = ssa(live, deployment())
    assert "annotations" not in out["metadata"]
    assert out["metadata"]["labels"] == {"app": "web"}


def test_set_element_order_reorders_a_primitive_list() -> None:
    obj = {"metadata": {"name": "x", "finalizers": ["a", "b"]}}
    out = smp(obj, {"metadata": {"$setElementOrder/finalizers": ["c", "b", "a"], "finalizers": ["c"]}})
    assert out["metadata"]["finalizers"] == ["c", "b", "a"]


def test_patch_merge_directive_in_a_map_merges_as_usual() -> None:
    out = smp(pod(c("c1"), nodeSelector={"a": "1"}), {"spec": {"nodeSelector": {"$patch": "merge", "b": "2"}}})
    assert out["spec"]["nodeSelector"] == {"a": "1", "b": "2"}
