"""Parsing the identifiers of a batch check: 10,000 IMEIs at once, the common case without a loop.

:func:`parse_imeis` answers what :func:`ledger_node.identifiers.parse_imei` answers for each value
(and the 15-digit IMEI to echo). A batch check usually sends plain 15-digit IMEIs; for those the
Luhn check digits of the whole batch are verified in a few C-level operations: the digits are
joined into one string, each of the 14 digit columns is read with a stride, mapped to its Luhn
value (doubled or not) with ``bytes.translate`` and read as one big integer with a byte per IMEI,
and the 14 integers are added — each byte holds at most 14 * 9 = 126, so no byte carries into the
next, and byte *i* of the sum is IMEI *i*'s Luhn sum. One more translate turns the sums into the
expected check digits, compared with the sent ones in one ``==``. Any other batch, and any IMEI
whose check digit differs, goes through ``parse_imei`` one by one, which also words the errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger_node.errors import InvalidIdentifierError
from ledger_node.identifiers import IMEI_CORE_LENGTH, IMEI_LENGTH, imei15, parse_imei

__all__ = ["parse_imeis"]

_DIGITS = b"0123456789"
# ASCII digit -> its Luhn value: as is at even 0-based positions of the core, doubled (digits of the
# product summed) at odd ones.
_PLAIN = bytes.maketrans(_DIGITS, bytes(range(10)))
_DOUBLED = bytes.maketrans(_DIGITS, bytes((0, 2, 4, 6, 8, 1, 3, 5, 7, 9)))
_COLUMN_TABLES = tuple(_DOUBLED if position % 2 else _PLAIN for position in range(IMEI_CORE_LENGTH))
# A Luhn sum (0..126) -> the ASCII check digit that completes it to a multiple of ten.
_CHECK_OF_SUM = bytes(_DIGITS[-total % 10] for total in range(256))


def _all_fifteen_digits(values: Sequence[str]) -> str | None:
    """The values joined, if every one is exactly 15 ASCII digits (else None)."""
    if set(map(len, values)) != {IMEI_LENGTH}:
        return None
    joined = "".join(values)
    return joined if joined.isascii() and joined.isdigit() else None


def _check_digits_agree(raw: bytes, count: int) -> list[bool]:
    """Per IMEI of ``raw`` (``count`` times 15 ASCII digits): whether its check digit is right."""
    total = 0
    for position, table in enumerate(_COLUMN_TABLES):
        total += int.from_bytes(raw[position::IMEI_LENGTH].translate(table), "big")
    expected = total.to_bytes(count, "big").translate(_CHECK_OF_SUM)
    sent = raw[IMEI_CORE_LENGTH::IMEI_LENGTH]
    if expected == sent:
        return [True] * count
    return [a == b for a, b in zip(expected, sent, strict=True)]


def parse_imeis(values: Sequence[str]) -> tuple[list[str | None], list[str], dict[int, str]]:
    """``(cores, imeis, errors)`` of ``values``: per value its 14-digit core (None when invalid) and
    its 15-digit IMEI (the value itself when invalid), and the error text of each invalid index."""
    cores: list[str | None] = []
    imeis: list[str] = []
    errors: dict[int, str] = {}
    joined = _all_fifteen_digits(values) if values else None
    if joined is not None:
        agree = _check_digits_agree(joined.encode("ascii"), len(values))
        cores = [joined[start : start + IMEI_CORE_LENGTH] for start in range(0, len(joined), IMEI_LENGTH)]
        imeis = list(values)
        if all(agree):
            return cores, imeis, errors
        for index, ok in enumerate(agree):
            if not ok:  # a wrong check digit: parse_imei words the error
                try:
                    cores[index] = parse_imei(values[index])
                except InvalidIdentifierError as exc:
                    cores[index] = None
                    errors[index] = str(exc)
        return cores, imeis, errors
    for index, value in enumerate(values):
        try:
            core = parse_imei(value)
        except InvalidIdentifierError as exc:
            cores.append(None)
            imeis.append(value)
            errors[index] = str(exc)
            continue
        cores.append(core)
        text = value.strip()
        # a 15-character identifier that parsed is the Luhn-checked 15-digit IMEI itself
        imeis.append(text if len(text) == IMEI_LENGTH else imei15(core))
    return cores, imeis, errors
