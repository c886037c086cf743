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
from ledger_node.identifiers import (
    IMEI_CORE_LENGTH,
    IMEI_LENGTH,
    all_fifteen_digits,
    check_digits_agree,
    imei15,
    parse_imei,
)

__all__ = ["parse_imeis"]


def parse_imeis(values: Sequence[str]) -> tuple[list[str | None], list[str], dict[int, str]]:
    """``(cores, imeis, errors)`` of ``values``: per value its 14-digit core (None when invalid) and
    its 15-digit IMEI (the value itself when invalid), and the error text of each invalid index."""
    cores: list[str | None] = []
    imeis: list[str] = []
    errors: dict[int, str] = {}
    joined = all_fifteen_digits(values) if values else None
    if joined is not None:
        agree = check_digits_agree(joined.encode("ascii"), len(values))
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
