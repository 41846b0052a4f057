"""Label and field selectors: Kubernetes' string syntax, metav1.LabelSelector dicts, matching.

Label selector strings (`app=web,tier in (a,b),!canary,env`) follow apimachinery's
`labels.Parse`: a small lexer (identifiers end at whitespace and at `!=(),<>`) and a parser of
comma-separated requirements, each validated as Kubernetes validates keys and values. Field
selectors (`spec.nodeName=n1,status.phase!=Failed`) follow `fields.ParseSelector`: split on
unescaped commas, then on the first `!=`, `==` or `=`; values may escape `\\`, `,` and `=`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "SelectorError",
    "label_selector_from_dict",
    "label_selector_to_string",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector that does not parse; the message is worded as Kubernetes words it."""


# ---------------------------------------------------------------------------------------------
# Validation of label keys and values (apimachinery/pkg/util/validation)

_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation "
    "is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def _key_errors(key: str) -> list[str]:
    """Problems with a qualified name `[prefix/]name`, empty when it is valid."""
    parts = key.split("/")
    if len(parts) == 1:
        prefix, name = "", parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
            "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
            "prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errs: list[str] = []
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _NAME_RE.match(name):
        errs.append(_NAME_MSG)
    if prefix:
        if len(prefix) > 253:
            errs.append("prefix part must be no more than 253 characters")
        elif not _DNS1123_SUBDOMAIN_RE.match(prefix):
            errs.append(
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character"
            )
    return errs


def _check_key(key: str) -> None:
    errs = _key_errors(key)
    if errs:
        raise SelectorError(f'key: Invalid value: "{key}": {"; ".join(errs)}')


def _check_value(value: str, i: int = 0) -> None:
    if len(value) > 63:
        raise SelectorError(f'values[{i}][{value}]: Invalid value: "{value}": must be no more than 63 characters')
    if value and not _NAME_RE.match(value):
        raise SelectorError(f'values[{i}][{value}]: Invalid value: "{value}": {_VALUE_MSG}')


# ---------------------------------------------------------------------------------------------
# Label selectors

_SET_OPS = ("in", "notin")
_ALL_OPS = ("=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One term of a label selector: `key op values`.

    `op` is one of "=", "==", "!=", "in", "notin", "exists", "!" (does not exist), "gt", "lt".
    """

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Kubernetes' Requirement.Matches: `!=`/`notin` also match when the key is absent."""
        if self.op in ("=", "==", "in"):
            return self.key in labels and labels[self.key] in self.values
        if self.op in ("!=", "notin"):
            return self.key not in labels or labels[self.key] not in self.values
        if self.op == "exists":
            return self.key in labels
        if self.op == "!":
            return self.key not in labels
        # gt / lt: the label must hold an integer.
        if self.key not in labels:
            return False
        try:
            have = int(labels[self.key])
            want = int(self.values[0])
        except ValueError:
            return False
        return have > want if self.op == "gt" else have < want

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return "!" + self.key
        if self.op in _SET_OPS:
            return f"{self.key} {self.op} ({','.join(sorted(self.values))})"
        if self.op == "gt":
            return f"{self.key}>{self.values[0]}"
        if self.op == "lt":
            return f"{self.key}<{self.values[0]}"
        return f"{self.key}{self.op}{self.values[0]}"


def _requirement(key: str, op: str, values: Iterable[str]) -> Requirement:
    """Build a validated requirement (apimachinery's NewRequirement)."""
    vals = tuple(values)
    _check_key(key)
    if op in ("=", "==", "!="):
        if len(vals) != 1:
            raise SelectorError("values: Invalid value: exact-match compatibility requires one single value")
    elif op in _SET_OPS:
        if not vals:
            raise SelectorError("values: Invalid value: for 'in', 'notin' operators, values set can't be empty")
    elif op in ("exists", "!"):
        if vals:
            raise SelectorError("values: Invalid value: values set must be empty for exists and does not exist")
    elif op in ("gt", "lt"):
        if len(vals) != 1:
            raise SelectorError("values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required")
        try:
            int(vals[0])
        except ValueError:
            raise SelectorError(
                f"values[0]: Invalid value: {vals[0]!r}: for 'Gt', 'Lt' operators, the value must be an integer"
            ) from None
    else:
        raise SelectorError(f'operator: Unsupported value: "{op}": supported values: {", ".join(_ALL_OPS)}')
    for i, v in enumerate(vals):
        _check_value(v, i)
    if op in _SET_OPS:
        vals = tuple(sorted(set(vals)))
    return Requirement(key, op, vals)


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A conjunction of requirements; no requirements matches every object."""

    requirements: tuple[Requirement, ...] = ()
    #: True for Kubernetes' `labels.Nothing()` (a nil selector where "nil selects none" applies).
    nothing: bool = False

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.requirements and not self.nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        lbls = labels or {}
        return all(r.matches(lbls) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


#: The selector that matches nothing (for callers that want Kubernetes' nil-selector semantics).
NOTHING = LabelSelector((), nothing=True)


class _Lexer:
    """Tokens of the label selector language, as apimachinery's lexer splits them."""

    _SPECIAL = "=!(),<>"

    def __init__(self, s: str) -> None:
        self.s = s
        self.pos = 0

    def tokens(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        s = self.s
        i = 0
        while True:
            while i < len(s) and s[i].isspace():
                i += 1
            if i >= len(s):
                out.append(("end", ""))
                return out
            c = s[i]
            if c in self._SPECIAL:
                two = s[i : i + 2]
                if two in ("==", "!="):
                    out.append((two, two))
                    i += 2
                elif c == "!":
                    out.append(("!", "!"))
                    i += 1
                else:
                    out.append((c, c))
                    i += 1
                continue
            j = i
            while j < len(s) and not s[j].isspace() and s[j] not in self._SPECIAL:
                j += 1
            word = s[i:j]
            out.append(("in" if word == "in" else "notin" if word == "notin" else "id", word))
            i = j


class _Parser:
    """Recursive-descent parser over the token list; errors read like apimachinery's."""

    def __init__(self, s: str) -> None:
        self.toks = _Lexer(s).tokens()
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str]:
        t = self.toks[self.i]
        if t[0] != "end":
            self.i += 1
        return t

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self.peek()
            if kind in ("id", "!"):
                try:
                    reqs.append(self.requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                kind, lit = self.take()
                if kind == "end":
                    return reqs
                if kind != ",":
                    raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
                kind2, lit2 = self.peek()
                if kind2 not in ("id", "!"):
                    raise SelectorError(f"found '{lit2}', expected: identifier after ','")
            elif kind == "end":
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        kind, lit = self.take()
        if kind == "!":
            kind, lit = self.take()
            if kind != "id":
                raise SelectorError(f"found '{lit}', expected: identifier after '!'")
            return _requirement(lit, "!", ())
        key = lit
        kind, lit = self.peek()
        if kind in ("end", ","):
            return _requirement(key, "exists", ())
        self.take()
        if kind in ("=", "==", "!="):
            vkind, vlit = self.peek()
            if vkind in ("end", ","):
                value = ""  # `key=` selects an empty value
            elif vkind in ("id", "in", "notin"):
                self.take()
                value = vlit
            else:
                raise SelectorError(f"found '{vlit}', expected: identifier")
            return _requirement(key, kind, (value,))
        if kind in (">", "<"):
            vkind, vlit = self.take()
            if vkind not in ("id", "in", "notin"):
                raise SelectorError(f"found '{vlit}', expected: identifier")
            return _requirement(key, "gt" if kind == ">" else "lt", (vlit,))
        if kind in _SET_OPS:
            return _requirement(key, kind, self.value_set())
        raise SelectorError(
            f"found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
        )

    def value_set(self) -> list[str]:
        kind, lit = self.take()
        if kind != "(":
            raise SelectorError(f"found '{lit}', expected: '('")
        values: list[str] = []
        expect_value = True
        while True:
            kind, lit = self.take()
            if kind in ("id", "in", "notin"):
                if not expect_value:
                    raise SelectorError(f"found '{lit}', expected: ',' or ')'")
                values.append(lit)
                expect_value = False
            elif kind == ",":
                if expect_value:
                    values.append("")  # `(a,,b)` and `(,a)` carry an empty value
                expect_value = True
            elif kind == ")":
                if expect_value and values:
                    values.append("")  # `(a,)`; but `()` is an empty set, rejected by the caller
                return values
            else:
                raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")


def parse_label_selector(s: str | None) -> LabelSelector:
    """Parse a label selector string; "" (or None) selects everything."""
    if s is None:
        return LabelSelector()
    if not isinstance(s, str):
        raise SelectorError(f"label selector must be a string, not {type(s).__name__}")
    reqs = _Parser(s).parse()
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


_DICT_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_from_dict(d: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector (`matchLabels` + `matchExpressions`) as a LabelSelector.

    None and `{}` both select everything here. (Kubernetes' LabelSelectorAsSelector turns a nil
    pointer into "nothing"; callers needing that use `NOTHING` for a missing selector.)
    """
    if d is None:
        return LabelSelector()
    if not isinstance(d, Mapping):
        raise SelectorError(f"label selector must be an object, not {type(d).__name__}")
    reqs: list[Requirement] = []
    match_labels = d.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels: Invalid value: must be a map of string keys to string values")
    for k, v in match_labels.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise SelectorError(f"matchLabels: Invalid value: {k!r}: {v!r}: keys and values must be strings")
        reqs.append(_requirement(k, "=", (v,)))
    exprs = d.get("matchExpressions") or []
    if not isinstance(exprs, list):
        raise SelectorError("matchExpressions: Invalid value: must be a list")
    for i, expr in enumerate(exprs):
        if not isinstance(expr, Mapping):
            raise SelectorError(f"matchExpressions[{i}]: Invalid value: must be an object")
        op = expr.get("operator")
        if op not in _DICT_OPS:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
        key = expr.get("key")
        if not isinstance(key, str):
            raise SelectorError(f"matchExpressions[{i}].key: Required value")
        values = expr.get("values") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise SelectorError(f"matchExpressions[{i}].values: Invalid value: must be a list of strings")
        reqs.append(_requirement(key, _DICT_OPS[op], values))
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def label_selector_to_string(d: Mapping[str, Any] | None) -> str:
    """A metav1.LabelSelector as selector text ("app=x,tier in (a,b)"); "" selects everything."""
    return str(label_selector_from_dict(d))


# ---------------------------------------------------------------------------------------------
# Field selectors

_FIELD_OPS = ("!=", "==", "=")


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A conjunction of (field, op, value) terms, op in "=", "==", "!="."""

    requirements: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        """A missing field reads as "" (Kubernetes' fields.Set.Get)."""
        for name, op, value in self.requirements:
            have = fields.get(name, "")
            if (have == value) != (op in ("=", "==")):
                return False
        return True

    def fields(self) -> set[str]:
        """The field names used (so the server can reject unsupported ones)."""
        return {name for name, _, _ in self.requirements}

    def __str__(self) -> str:
        return ",".join(f"{n}{op}{_escape_field_value(v)}" for n, op, v in self.requirements)


def _escape_field_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _split_terms(s: str) -> list[str]:
    """Split on commas that are not escaped with a backslash."""
    terms: list[str] = []
    start = 0
    i = 0
    while i < len(s):
        if s[i] == "\\":
            i += 2
            continue
        if s[i] == ",":
            terms.append(s[start:i])
            start = i + 1
        i += 1
    terms.append(s[start:])
    return terms


def _unescape_field_value(v: str, selector: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(v):
        c = v[i]
        if c == "\\":
            if i + 1 >= len(v) or v[i + 1] not in "\\,=":
                raise SelectorError(f"invalid field selector: '{selector}': invalid escape sequence in value {v!r}")
            out.append(v[i + 1])
            i += 2
            continue
        if c in ",=":
            raise SelectorError(f"invalid field selector: '{selector}': unescaped '{c}' in value {v!r}")
        out.append(c)
        i += 1
    return "".join(out)


def parse_field_selector(s: str | None) -> FieldSelector:
    """Parse `a=b,c!=d`; "" (or None) selects everything; `f=` selects an empty value."""
    if s is None:
        return FieldSelector()
    if not isinstance(s, str):
        raise SelectorError(f"field selector must be a string, not {type(s).__name__}")
    reqs: list[tuple[str, str, str]] = []
    for term in _split_terms(s):
        if not term:
            continue
        for i in range(len(term)):
            op = next((o for o in _FIELD_OPS if term.startswith(o, i)), None)
            if op is not None:
                name, raw = term[:i], term[i + len(op) :]
                break
        else:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{term}'")
        name = name.strip()
        if not name:
            raise SelectorError(f"invalid selector: '{s}'; can't understand '{term}': field name is empty")
        reqs.append((name, op, _unescape_field_value(raw, s)))
    return FieldSelector(reqs)
