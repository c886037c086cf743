"""parse_imeis answers what parse_imei answers for each identifier of a batch."""

from __future__ import annotations

import random

from gateway.api.imeis import parse_imeis
from ledger_node.errors import InvalidIdentifierError
from ledger_node.identifiers import imei15, parse_imei


def one_by_one(values: list[str]) -> tuple[list[str | None], list[str], dict[int, str]]:
    cores: list[str | None] = []
    imeis: list[str] = []
    errors: dict[int, str] = {}
    for index, value in enumerate(values):
        try:
            core = parse_imei(value)
        except InvalidIdentifierError as exc:
            cores.append(None)
            imeis.append(value)
            errors[index] = str(exc)
        else:
            cores.append(core)
            imeis.append(imei15(core))
    return cores, imeis, errors


def fifteen(rng: random.Random) -> str:
    return imei15(f"{rng.randrange(10**14):014d}")


def wrong_check_digit(value: str) -> str:
    return value[:14] + str((int(value[14]) + 1) % 10)


def test_fifteen_digit_batches_all_valid_and_with_bad_check_digits():
    rng = random.Random(5)
    valid = [fifteen(rng) for _ in range(2_000)]
    assert parse_imeis(valid) == one_by_one(valid)
    assert parse_imeis(valid)[0] == [v[:14] for v in valid]
    mixed = [wrong_check_digit(v) if rng.random() < 0.1 else v for v in valid]
    cores, imeis, errors = parse_imeis(mixed)
    assert (cores, imeis, errors) == one_by_one(mixed)
    assert 100 < len(errors) < 300
    assert all("check digit" in text for text in errors.values())


def test_every_accepted_form_and_error():
    rng = random.Random(6)
    value = fifteen(rng)
    values = [
        value,
        value[:14],
        value[:14] + "07",
        f"imei-{value}",
        f"IMEISV-{value[:14]}12",
        f"  {value} ",
        wrong_check_digit(value),
        "",
        "12345",
        "".join(chr(0xFF10 + int(d)) for d in value),  # full-width digits: not ASCII
        "49015420323751x",
        "mac-00-11-22-33-44-55",
    ]
    assert parse_imeis(values) == one_by_one(values)
    assert parse_imeis([]) == ([], [], {})
    # fifteen characters each, but not all digits: the one-by-one path
    letters = [value, "4901542032375x1"]
    assert parse_imeis(letters) == one_by_one(letters)
