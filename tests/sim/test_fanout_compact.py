"""The fleet's shared pod cache keeps each pod once, small: what the nodes read is what the API said."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from kubelite.client.fake import FakeApiClient
from kubelite.sim.fanout import PodFanout


def pod(phase: str, rv: str) -> dict[str, Any]:
    """A pod as a watch decodes it (fresh string objects, as orjson makes them)."""
    return orjson.loads(orjson.dumps(pod_literal(phase, rv)))


def pod_literal(phase: str, rv: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "default", "uid": "u-1", "resourceVersion": rv,
                         "labels": {"app": "web"}},
            "spec": {"nodeName": "sim-1", "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                                          "imagePullPolicy": "IfNotPresent"}]},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True"}]}}


def test_a_compacted_pod_says_what_the_api_said_and_shares_what_did_not_change() -> None:
    transform = PodFanout(FakeApiClient()).informer.transform  # what the fleet's pod cache runs
    assert transform is not None

    def _compact(new: dict[str, Any], old: dict[str, Any] | None) -> None:
        assert transform(new, old) is new  # compacted in place

    first = pod("Pending", "10")
    _compact(first, None)
    assert first == pod("Pending", "10")

    second = pod("Running", "11")  # a status write: spec unchanged
    _compact(second, first)
    assert second == pod("Running", "11")
    assert second["spec"] is first["spec"]  # one copy of the unchanged part
    assert second["status"] is not first["status"]

    # equal strings decoded separately are one object once compacted
    other = pod("Running", "12")
    other["metadata"]["name"] = "web-2"
    _compact(other, None)
    assert other["spec"]["containers"][0]["image"] is first["spec"]["containers"][0]["image"]
    assert other["status"]["phase"] is second["status"]["phase"]
    untouched = copy.deepcopy(other)
    _compact(other, other)
    assert other == untouched
