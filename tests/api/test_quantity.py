"""Resource quantities as users write them in pod specs and kubectl prints them."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubelite.api.quantity import (
    QuantityError,
    cpu_millis,
    format_cpu,
    format_memory,
    is_valid_quantity,
    memory_bytes,
    parse_quantity,
)

PARSE_CASES = [
    ("100 millicores is a tenth of a core", "100m", Decimal("0.1")),
    ("a plain integer is itself", "2", Decimal(2)),
    ("a decimal fraction is exact", "0.5", Decimal("0.5")),
    ("a leading dot is allowed", ".5", Decimal("0.5")),
    ("a trailing dot is allowed", "5.", Decimal(5)),
    ("a plus sign is allowed", "+1k", Decimal(1000)),
    ("a negative value parses", "-1", Decimal(-1)),
    ("Ki is 1024", "1Ki", Decimal(1024)),
    ("Mi is 1024 squared", "128Mi", Decimal(128 * 2**20)),
    ("fractional Gi is exact", "1.5Gi", Decimal(3 * 2**29)),
    ("Ei is 1024 to the sixth", "1Ei", Decimal(2**60)),
    ("k is a thousand", "1k", Decimal(1000)),
    ("M is a million", "2M", Decimal(2_000_000)),
    ("G is a billion", "1G", Decimal(10**9)),
    ("E alone is the exa suffix", "1E", Decimal(10**18)),
    ("n is nano", "5n", Decimal("5e-9")),
    ("u is micro", "3u", Decimal("3e-6")),
    ("a lower-case exponent scales", "2e3", Decimal(2000)),
    ("an upper-case negative exponent scales", "1E-2", Decimal("0.01")),
    ("an int is accepted as a number", 3, Decimal(3)),
    ("a float is accepted as a number", 0.25, Decimal("0.25")),
]


@pytest.mark.parametrize(("case", "text", "value"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_quantity(case: str, text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value
    assert is_valid_quantity(text)


BAD = ["", "abc", "1KB", "1 Gi", " 1", "1.2.3", "e3", "Mi", "1e", "1ki", "--1", "1Gi ", "0x10", "1.5.Mi"]


@pytest.mark.parametrize("text", BAD)
def test_a_malformed_quantity_is_a_clear_error(text: str) -> None:
    assert not is_valid_quantity(text)
    with pytest.raises(QuantityError, match="quantit"):
        parse_quantity(text)


@pytest.mark.parametrize("value", [True, None, float("nan"), float("inf"), [1], {"a": 1}])
def test_a_non_quantity_value_is_a_clear_error(value: object) -> None:
    assert not is_valid_quantity(value)
    with pytest.raises(QuantityError):
        parse_quantity(value)  # type: ignore[arg-type]


CPU = [
    ("a tenth of a core is 100m", "0.1", 100),
    ("millicores pass through", "250m", 250),
    ("whole cores are thousands", "2", 2000),
    ("sub-millicore values round up", "1n", 1),
    ("sub-millicore fractions round up", "100.5m", 101),
]


@pytest.mark.parametrize(("case", "text", "millis"), CPU, ids=[c[0] for c in CPU])
def test_cpu_millis(case: str, text: str, millis: int) -> None:
    assert cpu_millis(text) == millis


MEM = [
    ("Mi becomes bytes", "128Mi", 134217728),
    ("M is decimal", "1M", 1_000_000),
    ("fractional bytes round up", "0.5", 1),
    ("milli-bytes round up", "1500m", 2),
    ("plain bytes pass through", "1024", 1024),
]


@pytest.mark.parametrize(("case", "text", "nbytes"), MEM, ids=[c[0] for c in MEM])
def test_memory_bytes(case: str, text: str, nbytes: int) -> None:
    assert memory_bytes(text) == nbytes


FORMAT = [
    ("whole cores print without a suffix", format_cpu, 2000, "2"),
    ("part cores print as millicores", format_cpu, 100, "100m"),
    ("zero cores print as 0", format_cpu, 0, "0"),
    ("exact mebibytes print as Mi", format_memory, 128 * 2**20, "128Mi"),
    ("exact gibibytes print as Gi", format_memory, 2**30, "1Gi"),
    ("1.5 KiB is not exact, so plain bytes", format_memory, 1536, "1536"),
    ("zero bytes print as 0", format_memory, 0, "0"),
]


@pytest.mark.parametrize(("case", "fn", "value", "text"), FORMAT, ids=[c[0] for c in FORMAT])
def test_format(case: str, fn, value: int, text: str) -> None:  # type: ignore[no-untyped-def]
    assert fn(value) == text


@given(st.integers(min_value=0, max_value=10**9))
def test_cpu_format_then_parse_round_trips(millis: int) -> None:
    assert cpu_millis(format_cpu(millis)) == millis


@given(st.integers(min_value=0, max_value=2**62))
def test_memory_format_then_parse_round_trips(nbytes: int) -> None:
    assert memory_bytes(format_memory(nbytes)) == nbytes


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "E-2"]),
)
def test_any_number_with_a_suffix_is_valid(n: int, suffix: str) -> None:
    assert is_valid_quantity(f"{n}{suffix}")
    assert parse_quantity(f"{n}{suffix}") >= 0
