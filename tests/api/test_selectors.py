"""Label and field selectors as kubectl sends them (-l, --field-selector) and as objects embed them."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubelite.api.selectors import (
    NOTHING,
    SelectorError,
    label_selector_from_dict,
    label_selector_to_string,
    parse_field_selector,
    parse_label_selector,
)

WEB = {"app": "web", "tier": "frontend", "env": "prod"}

MATCH_CASES = [
    ("an empty selector matches everything", "", WEB, True),
    ("equality matches the same value", "app=web", WEB, True),
    ("double equals is equality", "app==web", WEB, True),
    ("equality fails on another value", "app=db", WEB, False),
    ("equality fails when the key is absent", "zone=a", WEB, False),
    ("inequality matches another value", "env!=dev", WEB, True),
    ("inequality matches an absent key", "zone!=a", WEB, True),
    ("inequality fails on the same value", "env!=prod", WEB, False),
    ("in matches a listed value", "tier in (frontend, backend)", WEB, True),
    ("in fails on an unlisted value", "tier in (backend)", WEB, False),
    ("in fails when the key is absent", "zone in (a,b)", WEB, False),
    ("notin matches an unlisted value", "tier notin (backend)", WEB, True),
    ("notin matches an absent key", "zone notin (a)", WEB, True),
    ("notin fails on a listed value", "env notin (prod,dev)", WEB, False),
    ("a bare key requires the key", "app", WEB, True),
    ("a bare key fails when absent", "canary", WEB, False),
    ("a negated key requires absence", "!canary", WEB, True),
    ("a negated key fails when present", "!app", WEB, False),
    ("commas are AND (all true)", "app=web,env=prod,!canary", WEB, True),
    ("commas are AND (one false)", "app=web,env=dev", WEB, False),
    ("whitespace around terms is ignored", "  app = web ,  env  ", WEB, True),
    ("an empty value matches an empty label", "empty=", {"empty": ""}, True),
    ("an empty value does not match a missing label", "empty=", {}, False),
    ("greater-than compares integers", "gen>3", {"gen": "10"}, True),
    ("less-than compares integers", "gen<3", {"gen": "10"}, False),
    ("greater-than fails on a non-integer label", "gen>3", {"gen": "x"}, False),
    ("prefixed keys work", "app.kubernetes.io/name=web", {"app.kubernetes.io/name": "web"}, True),
]


@pytest.mark.parametrize(("case", "sel", "labels", "want"), MATCH_CASES, ids=[c[0] for c in MATCH_CASES])
def test_label_selector_matching(case: str, sel: str, labels: dict[str, str], want: bool) -> None:
    assert parse_label_selector(sel).matches(labels) is want


ERROR_CASES = [
    ("a trailing comma needs another requirement", "app=web,", "expected: identifier after ','"),
    ("two words need an operator", "a b", "unable to parse requirement"),
    ("a bang needs a key", "!", "identifier after '!'"),
    ("in needs parentheses", "a in a", "expected: '('"),
    ("an unclosed set is an error", "a in (x,y", "unable to parse requirement"),
    ("junk after a value is an error", "a=b c", "expected: ',' or 'end of string'"),
    ("an invalid key is rejected", "a/b/c=1", "unable to parse requirement: key: Invalid value"),
    ("an invalid value is rejected", "a=$$", "Invalid value: \"$$\""),
    ("a value over 63 characters is rejected", "a=" + "x" * 64, "no more than 63"),
    ("gt needs an integer", "a>x", "must be an integer"),
    ("a leading operator is an error", "=x", "expected: !, identifier, or 'end of string'"),
    ("an empty set is an error", "a in ()", "values"),
]


@pytest.mark.parametrize(("case", "sel", "msg"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_label_selector_errors(case: str, sel: str, msg: str) -> None:
    with pytest.raises(SelectorError) as exc:
        parse_label_selector(sel)
    assert msg in str(exc.value)
    assert isinstance(exc.value, ValueError)


STRING_CASES = [
    ("requirements print sorted by key", "tier=a,app=web", "app=web,tier=a"),
    ("set values print sorted without spaces", "tier in (b, a)", "tier in (a,b)"),
    ("existence prints as the key", "app", "app"),
    ("non-existence prints with a bang", "!app", "!app"),
    ("notin prints like in", "x notin (b,a)", "x notin (a,b)"),
]


@pytest.mark.parametrize(("case", "sel", "text"), STRING_CASES, ids=[c[0] for c in STRING_CASES])
def test_label_selector_string_form(case: str, sel: str, text: str) -> None:
    assert str(parse_label_selector(sel)) == text


DICT_CASES = [
    ("None selects everything", None, WEB, True),
    ("an empty dict selects everything", {}, WEB, True),
    ("matchLabels must all match", {"matchLabels": {"app": "web", "env": "prod"}}, WEB, True),
    ("one wrong matchLabel fails", {"matchLabels": {"app": "web", "env": "dev"}}, WEB, False),
    ("In expressions match", {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend"]}]},
     WEB, True),
    ("NotIn expressions match", {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}]},
     WEB, True),
    ("Exists expressions match", {"matchExpressions": [{"key": "env", "operator": "Exists"}]}, WEB, True),
    ("DoesNotExist fails on a present key", {"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]},
     WEB, False),
    ("labels and expressions are ANDed",
     {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]},
     WEB, False),
]


@pytest.mark.parametrize(("case", "sel", "labels", "want"), DICT_CASES, ids=[c[0] for c in DICT_CASES])
def test_label_selector_from_dict(case: str, sel: dict | None, labels: dict[str, str], want: bool) -> None:
    assert label_selector_from_dict(sel).matches(labels) is want


DICT_ERRORS = [
    ("an unknown operator", {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]},
     '"Gt" is not a valid label selector operator'),
    ("In with no values", {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "can't be empty"),
    ("Exists with values", {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     "must be empty"),
    ("a non-string label value", {"matchLabels": {"a": 1}}, "must be strings"),
    ("an invalid matchLabels key", {"matchLabels": {"bad key": "x"}}, "Invalid value"),
    ("a selector that is not an object", "app=x", "must be an object"),
]


@pytest.mark.parametrize(("case", "sel", "msg"), DICT_ERRORS, ids=[c[0] for c in DICT_ERRORS])
def test_label_selector_from_dict_errors(case: str, sel: object, msg: str) -> None:
    with pytest.raises(SelectorError, match=msg):
        label_selector_from_dict(sel)  # type: ignore[arg-type]


def test_the_scale_subresource_selector_string_reads_like_kubernetes() -> None:
    sel = {
        "matchLabels": {"app": "x"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "canary", "operator": "DoesNotExist"},
        ],
    }
    assert label_selector_to_string(sel) == "app=x,!canary,tier in (a,b)"
    assert label_selector_to_string({}) == ""
    assert label_selector_to_string(None) == ""


def test_the_keys_in_and_notin_select_only_in_dict_form_as_in_kubernetes() -> None:
    assert label_selector_from_dict({"matchLabels": {"in": "0"}}).matches({"in": "0"})
    for text in ("in=0", "notin=0"):
        with pytest.raises(SelectorError):
            parse_label_selector(text)


def test_emptiness_and_the_nothing_selector() -> None:
    assert parse_label_selector("").empty
    assert label_selector_from_dict({}).empty
    assert not parse_label_selector("a").empty
    assert not NOTHING.empty and not NOTHING.matches({})


# "in" and "notin" are valid label keys, but the selector string lexer reads them as operators, in
# Kubernetes too (`-l in=0` does not parse there either): only the dict form can select on them
_keys = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True).filter(lambda k: k not in ("in", "notin"))
_vals = st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True)


@given(
    st.dictionaries(_keys, _vals, max_size=4),
    st.lists(st.tuples(_keys, st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
                       st.lists(_vals, min_size=1, max_size=3)), max_size=3),
    st.dictionaries(_keys, _vals, max_size=5),
)
def test_a_dict_selector_and_its_string_select_the_same_labels(
    match_labels: dict[str, str], exprs: list[tuple[str, str, list[str]]], labels: dict[str, str]
) -> None:
    d = {
        "matchLabels": match_labels,
        "matchExpressions": [
            {"key": k, "operator": op, **({"values": v} if op in ("In", "NotIn") else {})} for k, op, v in exprs
        ],
    }
    text = label_selector_to_string(d)
    assert parse_label_selector(text).matches(labels) == label_selector_from_dict(d).matches(labels)
    assert str(parse_label_selector(text)) == text


FIELD_CASES = [
    ("describe node: pods on the node that are not finished",
     "spec.nodeName=node1,status.phase!=Succeeded,status.phase!=Failed",
     {"spec.nodeName": "node1", "status.phase": "Running"}, True),
    ("describe node: a succeeded pod is excluded",
     "spec.nodeName=node1,status.phase!=Succeeded,status.phase!=Failed",
     {"spec.nodeName": "node1", "status.phase": "Succeeded"}, False),
    ("get -w by name", "metadata.name=x", {"metadata.name": "x"}, True),
    ("double equals is equality", "metadata.name==x", {"metadata.name": "x"}, True),
    ("an empty value matches an empty field", "involvedObject.namespace=", {"involvedObject.namespace": ""}, True),
    ("an empty value matches a missing field", "involvedObject.namespace=", {}, True),
    ("an empty value does not match a set field", "involvedObject.namespace=", {"involvedObject.namespace": "d"},
     False),
    ("an escaped comma is part of the value", r"reason=a\,b", {"reason": "a,b"}, True),
    ("an escaped equals sign is part of the value", r"reason=a\=b", {"reason": "a=b"}, True),
    ("an empty selector matches everything", "", {"a": "b"}, True),
]


@pytest.mark.parametrize(("case", "sel", "fields", "want"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_field_selector_matching(case: str, sel: str, fields: dict[str, str], want: bool) -> None:
    assert parse_field_selector(sel).matches(fields) is want


def test_field_selector_requirements_keep_their_order_and_operators() -> None:
    sel = parse_field_selector(r"involvedObject.kind=Node,involvedObject.name=n\,1,status.phase!=Failed")
    assert sel.requirements == [
        ("involvedObject.kind", "=", "Node"),
        ("involvedObject.name", "=", "n,1"),
        ("status.phase", "!=", "Failed"),
    ]
    assert sel.fields() == {"involvedObject.kind", "involvedObject.name", "status.phase"}
    assert parse_field_selector(str(sel)).requirements == sel.requirements


FIELD_ERRORS = [
    ("a term without an operator", "abc", "can't understand 'abc'"),
    ("an unescaped equals sign in a value", "a=b=c", "unescaped '='"),
    ("an unknown escape", r"a=\q", "invalid escape sequence"),
    ("a missing field name", "=x", "field name is empty"),
]


@pytest.mark.parametrize(("case", "sel", "msg"), FIELD_ERRORS, ids=[c[0] for c in FIELD_ERRORS])
def test_field_selector_errors(case: str, sel: str, msg: str) -> None:
    with pytest.raises(SelectorError, match=msg):
        parse_field_selector(sel)


@given(st.lists(st.tuples(st.sampled_from(["a.b", "spec.x"]), st.sampled_from(["=", "!="]), st.text(max_size=6)),
                max_size=3))
def test_field_selector_string_round_trips(reqs: list[tuple[str, str, str]]) -> None:
    from kubelite.api.selectors import FieldSelector

    text = str(FieldSelector(list(reqs)))
    assert parse_field_selector(text).requirements == [r for r in reqs]
