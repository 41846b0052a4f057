"""Small object-metadata helpers shared by the API's pure functions: timestamps and ages.

Kubernetes writes times as RFC 3339 in UTC with second precision (`metav1.Time`,
"2024-05-01T10:00:00Z") or microsecond precision (`metav1.MicroTime`, used by events.k8s.io
`eventTime`). Ages are printed with apimachinery's `duration.HumanDuration`, whose rounding
rules kubectl users know by sight ("5m", "2d3h", "<invalid>"), so they are reproduced exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

_US_PER_S = 1_000_000


def now_rfc3339(now: datetime | None = None) -> str:
    """The current (or given) time as a `metav1.Time` string: second precision, UTC, `Z`."""
    t = (now or datetime.now(UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339_micro(now: datetime | None = None) -> str:
    """The current (or given) time as a `metav1.MicroTime` string (events.k8s.io eventTime)."""
    t = (now or datetime.now(UTC)).astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp; None for a missing, empty or malformed value.

    Accepts `Z` or a numeric offset and any number of fractional digits (Go emits up to nine,
    Python keeps six).
    """
    if not isinstance(value, str) or not value:
        return None
    s = value.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    if "." in s:
        head, _, rest = s.partition(".")
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        s = head + ("." + (digits + "000000")[:6] if digits else "") + rest[i:]
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t


def _trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Go's int conversion does."""
    q = abs(a) // b
    return q if a >= 0 else -q


def human_duration(d: timedelta) -> str:
    """apimachinery `duration.HumanDuration`: about 2-3 significant figures of a duration.

    Up to 2 s in the future counts as now ("0s"), to tolerate clock skew; further is "<invalid>".
    """
    us = d // timedelta(microseconds=1)
    seconds = _trunc_div(us, _US_PER_S)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def format_age(timestamp: Any, now: datetime) -> str:
    """The Age cell for a timestamp string: "5m", "2d3h"; "<unknown>" when unset or unreadable."""
    t = parse_time(timestamp)
    if t is None:
        return "<unknown>"
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return human_duration(now - t)
