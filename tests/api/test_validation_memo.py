"""Pod specs known to be valid are not checked again (the pods of one ReplicaSet share one spec):
what the memo remembers must never let an invalid spec through."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubelite.api import validation
from kubelite.api.defaults import apply_defaults
from kubelite.api.validation import validate_create


def pod(image: Any = "nginx") -> dict[str, Any]:
    p: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
                         "spec": {"containers": [{"name": "c", "image": image}]}}
    apply_defaults("v1", "Pod", p)
    return p


def messages(obj: dict[str, Any], api_version: str = "v1", kind: str = "Pod") -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate_create(api_version, kind, obj)]


def test_a_valid_spec_stays_valid_and_an_invalid_one_is_reported_every_time() -> None:
    assert messages(pod()) == [] and messages(pod()) == []
    bad = pod()
    bad["spec"]["containers"][0]["name"] = "Bad_Name"
    first = messages(bad)
    assert first and messages(bad) == first


def test_specs_whose_json_could_equal_another_specs_are_not_memoised() -> None:
    """YAML reads an unquoted 2020-01-01 as a date (JSON would write the string "2020-01-01"), and
    orjson writes NaN and Infinity as null: such specs are checked every time."""
    spec = pod()["spec"]
    assert validation._spec_memo_key(spec, "spec", ("Always",)) is not None
    for odd in (dt.date(2020, 1, 1), dt.datetime(2020, 1, 1, tzinfo=dt.UTC), float("inf"), float("nan"), b"x"):
        weird = copy.deepcopy(spec)
        weird["containers"][0]["image"] = odd
        assert validation._spec_memo_key(weird, "spec", ("Always",)) is None, odd


def test_a_spec_valid_in_one_place_is_checked_again_where_other_rules_hold() -> None:
    """A Deployment's template must restart Always, a Job's must not: the same spec, two answers."""
    d: dict[str, Any] = {"metadata": {"name": "web", "namespace": "default"},
                         "spec": {"selector": {"matchLabels": {"app": "web"}},
                                  "template": {"metadata": {"labels": {"app": "web"}},
                                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    apply_defaults("apps/v1", "Deployment", d)
    assert messages(d, "apps/v1", "Deployment") == []
    j: dict[str, Any] = {"metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
                         "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    apply_defaults("batch/v1", "Job", j)
    j["spec"]["template"]["spec"] = copy.deepcopy(d["spec"]["template"]["spec"])
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "Never", ' \
           '"OnFailure"' in messages(j, "batch/v1", "Job")


def test_the_memo_stays_bounded() -> None:
    for i in range(validation._VALID_SPECS_MAX + 10):
        assert messages(pod(f"image-{i}")) == []
    assert 0 < len(validation._VALID_SPECS) <= validation._VALID_SPECS_MAX
