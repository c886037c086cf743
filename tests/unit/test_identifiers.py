"""IMEI / IMEISV / PEI parsing (3GPP TS 23.003)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_node.errors import InvalidIdentifierError
from ledger_node.identifiers import imei15, luhn_check_digit, parse_imei, to_pei

FULLWIDTH = "".join(chr(0xFF10 + int(c)) for c in "49015420323751")  # str.isdigit() is True for these
cores = st.text(alphabet="0123456789", min_size=14, max_size=14)


def reference_luhn(core: str) -> str:
    """Textbook Luhn, written independently of the implementation under test."""
    total = 0
    for position, char in enumerate(core):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


@pytest.mark.parametrize(
    ("core", "check"),
    [
        ("49015420323751", "8"),  # the classic example IMEI 49-015420-323751-8
        ("35209900176148", "1"),
        ("00000000000000", "0"),
        ("99999999999999", "4"),
    ],
)
def test_known_check_digits(core: str, check: str) -> None:
    assert luhn_check_digit(core) == check
    assert imei15(core) == core + check
    assert to_pei(core) == f"imei-{core}{check}"


@given(cores)
def test_luhn_matches_reference(core: str) -> None:
    assert luhn_check_digit(core) == reference_luhn(core)


@given(cores, st.text(alphabet="0123456789", min_size=2, max_size=2), st.sampled_from(["", " ", "\t", "\n "]))
def test_all_forms_parse_to_core(core: str, sv: str, pad: str) -> None:
    full = core + reference_luhn(core)
    forms = [
        core,
        full,
        core + sv,
        f"imei-{full}",
        f"IMEI-{full}",
        f"Imei-{full}",
        f"imeisv-{core}{sv}",
        f"IMEISV-{core}{sv}",
    ]
    for form in forms:
        assert parse_imei(pad + form + pad) == core, form


@given(cores, st.integers(min_value=1, max_value=9))
def test_wrong_check_digit_rejected(core: str, delta: int) -> None:
    good = int(reference_luhn(core))
    bad = str((good + delta) % 10)
    with pytest.raises(InvalidIdentifierError) as info:
        parse_imei(core + bad)
    assert info.value.value == core + bad
    assert info.value.reason == f"bad check digit {bad}, expected {good}"
    with pytest.raises(InvalidIdentifierError, match=f"expected {good}"):
        parse_imei(f"imei-{core}{bad}")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "empty identifier"),
        ("   ", "empty identifier"),
        ("4901542032375", "wrong length: expected 14, 15 or 16 digits (or a PEI form), got 13"),
        ("49015420323751899", "wrong length: expected 14, 15 or 16 digits (or a PEI form), got 17"),
        ("4901542032375a", "non-digit character 'a' at position 13"),
        ("49015420 323751", "non-digit character ' ' at position 8"),
        (FULLWIDTH, f"non-digit character {FULLWIDTH[0]!r} at position 0"),
        ("4901542032375²", "non-digit character '²' at position 13"),
        ("imei-49015420323751", "imei- needs 15 digits, got 14"),
        ("imeisv-490154203237518", "imeisv- needs 16 digits, got 15"),
        ("imei-", "no digits after 'imei-'"),
        ("imei-49015420323751x", "non-digit character 'x' at position 19"),
        ("meid-A0000000002329", "unknown prefix 'meid-' (expected 'imei-' or 'imeisv-')"),
        ("imsi-490154203237518", "unknown prefix 'imsi-' (expected 'imei-' or 'imeisv-')"),
        ("-490154203237518", "unknown prefix '-' (expected 'imei-' or 'imeisv-')"),
        ("490154203237519", "bad check digit 9, expected 8"),
    ],
)
def test_bad_inputs_name_the_problem(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        parse_imei(value)
    assert info.value.reason == reason
    assert info.value.value == value
    assert repr(value) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("core", ["4901542032375", "490154203237518", "4901542032375a", ""])
def test_helpers_require_a_core(core: str) -> None:
    for helper in (luhn_check_digit, imei15, to_pei):
        with pytest.raises(InvalidIdentifierError):
            helper(core)
