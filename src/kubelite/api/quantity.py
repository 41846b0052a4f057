"""Kubernetes resource quantities ("100m", "1.5Gi", "2e3") as exact decimals.

Kubernetes' `resource.Quantity` is a signed decimal number with one optional suffix: a binary
multiple (Ki..Ei), a decimal SI multiple (n, u, m, "", k, M, G, T, P, E) or a decimal exponent
(e3, E-2). We parse into `Decimal` so that "0.1" CPU is exactly 100 millicores, and round up
(as the scheduler and kubelet do) only when converting to an integer unit.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

__all__ = [
    "QuantityError",
    "cpu_millis",
    "format_cpu",
    "format_memory",
    "is_valid_quantity",
    "memory_bytes",
    "parse_quantity",
]


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity (message as the apiserver words it)."""


_BINARY: dict[str, int] = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL: dict[str, int] = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

# <sign>? <digits>[.<digits>] | <sign>? .<digits>, then an optional suffix.
_QUANTITY_RE = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<bin>Ki|Mi|Gi|Ti|Pi|Ei)|[eE](?P<exp>[+-]?[0-9]+)|(?P<dec>[numkMGTPE]?))$"
)

_QUANTITY_HINT = "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def parse_quantity(v: str | int | float | Decimal) -> Decimal:
    """Parse a quantity into its exact value ("1Ki" -> 1024, "100m" -> 0.1)."""
    if isinstance(v, bool):
        raise QuantityError(f"quantities must be strings or numbers, not {v!r}")
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise QuantityError(f"quantity {v!r} is not a finite number")
        return Decimal(repr(v))
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise QuantityError(f"quantity {v!r} is not a finite number")
        return v
    if not isinstance(v, str):
        raise QuantityError(f"quantities must be strings or numbers, not {type(v).__name__}")
    cached = _PARSED.get(v)
    if cached is not None:
        return cached
    parsed = _parse_string(v)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[v] = parsed
    return parsed


#: parsed quantity strings: the same few ("100m", "128Mi", "32") are parsed on every pod write
#: and scheduling decision; Decimals are immutable, so the cache hands out shared values
_PARSED: dict[str, Decimal] = {}
_PARSED_MAX = 4096


def _parse_string(v: str) -> Decimal:
    if v == "":
        raise QuantityError("quantities must not be empty")
    m = _QUANTITY_RE.match(v)
    if m is None:
        raise QuantityError(f"quantities {_QUANTITY_HINT}: {v!r}")
    try:
        num = Decimal(m.group("num"))
    except InvalidOperation as e:  # pragma: no cover - the regex only admits valid decimals
        raise QuantityError(f"quantities {_QUANTITY_HINT}: {v!r}") from e
    if m.group("bin") is not None:
        return num * (Decimal(1024) ** _BINARY[m.group("bin")])
    if m.group("exp") is not None:
        exp = int(m.group("exp"))
        if abs(exp) > 10_000:
            raise QuantityError(f"quantity {v!r} has an exponent out of range")
        return num.scaleb(exp)
    return num.scaleb(_DECIMAL[m.group("dec") or ""])


def is_valid_quantity(s: object) -> bool:
    """True when `s` parses as a quantity (for validation messages without exceptions)."""
    try:
        parse_quantity(s)  # type: ignore[arg-type]
    except QuantityError:
        return False
    return True


def _ceil(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_CEILING))


def cpu_millis(v: str | int | float | Decimal) -> int:
    """CPU in millicores, rounded up as Kubernetes does ("0.1" -> 100, "1" -> 1000)."""
    if v.__class__ is str:
        return _cpu_millis_of(v)  # type: ignore[arg-type]
    return _ceil(parse_quantity(v) * 1000)


def memory_bytes(v: str | int | float | Decimal) -> int:
    """Memory (or any byte count) in bytes, rounded up ("128Mi" -> 134217728)."""
    if v.__class__ is str:
        return _memory_bytes_of(v)  # type: ignore[arg-type]
    return _ceil(parse_quantity(v))


# Strings are converted once: a cluster's pods repeat the same few quantities ("10m", "128Mi"), and
# the scheduler, the controllers and every kubelet convert them per pod (a Decimal parse each). A
# bad string raises every time (lru_cache keeps results, not exceptions).
@functools.lru_cache(maxsize=4096)
def _cpu_millis_of(s: str) -> int:
    return _ceil(parse_quantity(s) * 1000)


@functools.lru_cache(maxsize=4096)
def _memory_bytes_of(s: str) -> int:
    return _ceil(parse_quantity(s))


def format_cpu(millis: int) -> str:
    """Millicores as Kubernetes prints them: whole cores as "2", else "250m"."""
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis}m"


def format_memory(nbytes: int) -> str:
    """Bytes with the largest exact binary suffix ("128Mi", "1Gi"), else plain bytes."""
    if nbytes == 0:
        return "0"
    for suffix, power in sorted(_BINARY.items(), key=lambda kv: -kv[1]):
        unit = 1024**power
        if nbytes % unit == 0:
            return f"{nbytes // unit}{suffix}"
    return str(nbytes)
