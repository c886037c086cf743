"""The latest record of each country for an IMEI: the input of the effective-status fold.

Not a table of its own: ``ledger_records`` is clustered by ``(imei, country, seq, idx)``, so every
record of an IMEI is one short range of one B-tree, and a country's latest record for it is the
last row of that country in the range. Only IMEI records (``kind < 16``) take part.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ENTRY_ROWS_SQL", "Entry", "EntryRow", "fold_input", "latest_entries"]

#: ``kind, seq, idx, reported_at`` of a country's latest record for an IMEI.
Entry = tuple[int, int, int, int]
#: ``imei, country, kind, seq, idx, reported_at``: a row of :data:`ENTRY_ROWS_SQL`.
EntryRow = tuple[str, str, int, int, int, int]

#: The IMEI records of the IMEIs in ``IN ({})`` (``?`` placeholders to fill in).
ENTRY_ROWS_SQL = (
    "SELECT imei, country, kind, seq, idx, reported_at FROM ledger_records WHERE kind < 16 AND imei IN ({})"
)


def latest_entries(rows: Iterable[EntryRow]) -> dict[str, dict[str, Entry]]:
    """``{imei: {country: latest entry}}`` of record rows in any order (highest ``(seq, idx)`` wins)."""
    out: dict[str, dict[str, Entry]] = {}
    for imei, country, kind, seq, idx, at in rows:
        per_country = out.get(imei)
        if per_country is None:
            per_country = out[imei] = {}
        prev = per_country.get(country)
        if prev is None or (seq, idx) > (prev[1], prev[2]):
            per_country[country] = (int(kind), int(seq), int(idx), int(at))
    return out


def fold_input(per_country: dict[str, Entry]) -> list[tuple[str, int]]:
    """``(country, kind)`` pairs of an IMEI's latest entries, by country (what ``fold`` takes)."""
    return [(country, entry[0]) for country, entry in sorted(per_country.items())]
