"""merge_patch_shared: a JSON merge patch that shares the untouched parts of its target instead of
copying it (the apiserver's pods/status PATCH), and merge_patch_into's copy_values=False."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelite.api.patch import merge_patch, merge_patch_into, merge_patch_shared

_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "b", ""])
_keys = st.sampled_from(["a", "b", "c", "status", "spec"])
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
                     max_leaves=12)
_objects = st.dictionaries(_keys, _json, max_size=4)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # (a loaded machine is slow, not wrong)
@given(_objects, _objects)
def test_it_gives_what_merge_patch_gives_and_leaves_the_target_alone(target: dict[str, Any],
                                                                     patch: dict[str, Any]) -> None:
    before = copy.deepcopy(target)
    expected = merge_patch(target, patch)
    assert merge_patch_shared(target, copy.deepcopy(patch)) == expected
    assert target == before


def test_the_parts_the_patch_does_not_touch_are_shared_not_copied() -> None:
    spec = {"containers": [{"name": "c", "image": "x"}]}
    conditions = [{"type": "Ready", "status": "False"}]
    pod = {"metadata": {"name": "p"}, "spec": spec, "status": {"phase": "Pending", "conditions": conditions}}
    out = merge_patch_shared(pod, {"status": {"phase": "Running"}})
    assert out["spec"] is spec and out["metadata"] is pod["metadata"]
    assert out["status"]["conditions"] is conditions
    assert out["status"] == {"phase": "Running", "conditions": conditions}
    assert pod["status"]["phase"] == "Pending"  # (a new status map; the old one is untouched)


def test_copy_values_false_moves_the_patch_values_in() -> None:
    conditions = [{"type": "Ready", "status": "True"}]
    out = merge_patch_into({"status": {"phase": "Pending"}}, {"status": {"conditions": conditions}},
                           copy_values=False)
    assert out["status"]["conditions"] is conditions
    copied = merge_patch_into({"status": {}}, {"status": {"conditions": conditions}})
    assert copied["status"]["conditions"] == conditions and copied["status"]["conditions"] is not conditions
