"""`register import`, `report`, `check` and `stats` on a gateway database of their own (no node needed)."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.cli.common import EXIT_BAD_ROWS, EXIT_ERROR
from ledger_node.identifiers import imei15
from tests.cli.helpers import Cli, flat, outbox_size

A, B, C, D = (
    imei15(core) for core in ("35209900176148", "35209900176155", "35209900176163", "86012345678901")
)
_E = imei15("35209900176171")
BAD_LUHN = _E[:-1] + str((int(_E[-1]) + 1) % 10)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_reports_every_bad_row_by_line_and_a_second_import_is_a_no_op(
    tmp_path: Path, offline_config: Path
) -> None:
    snapshot = _write(
        tmp_path / "register.csv",
        [
            "imei,kind,reported_at,case_ref",
            f"{A},STOLEN,2026-01-05,CASE-1",
            f"{BAD_LUHN},STOLEN,2026-01-05,CASE-2",  # line 3: bad check digit
            f"{B},FOUND,2026-01-05,CASE-3",  # line 4: unknown kind
            f"{C},LOST,2026-02-30,CASE-4",  # line 5: no such date
            f"imei-{D},lost,1767225600,",
        ],
    )
    cli = Cli()
    first = cli("register", "import", str(snapshot), "-c", "IN", "--config", str(offline_config))
    assert first.exit_code == EXIT_BAD_ROWS, first.output
    out = flat(first.stdout)
    assert "5 rows" in out
    assert "created 2 (STOLEN 1, LOST 1), unchanged 0, bad 3" in out
    lines = [line.strip() for line in first.stdout.splitlines() if line.strip().startswith("line ")]
    assert [line.split(":")[0] for line in lines] == ["line 3", "line 4", "line 5"]
    assert "check digit" in lines[0]
    assert "kind" in lines[1]
    assert "FOUND" in lines[1]
    assert "2026-02-30" in lines[2]
    database = tmp_path / "data" / "gateway.sqlite"
    assert outbox_size(database) == 2

    second = cli("register", "import", str(snapshot), "-c", "IN", "--config", str(offline_config))
    assert second.exit_code == EXIT_BAD_ROWS  # the same rows are still bad
    assert "created 0, unchanged 2, bad 3" in flat(second.stdout)
    assert outbox_size(database) == 2  # nothing new to publish

    # the register now holds the two good rows: `check` reads the ledger view, `stats` the register
    stats = cli.json("stats", "-c", "IN", "--config", str(offline_config))
    assert stats["register"] == {"STOLEN": 1, "LOST": 1}
    assert stats["outbox_depth"] == 2


def test_clean_ndjson_import_exits_0_and_missing_withdraw_clears_what_the_snapshot_dropped(
    tmp_path: Path, offline_config: Path
) -> None:
    rows = [
        {"imei": A, "kind": "STOLEN", "reported_at": "2026-01-05T10:00:00Z", "case_ref": "X"},
        {"imei": B, "kind": "LOST", "reported_at": 1767225600},
    ]
    full = _write(tmp_path / "full.ndjson", [json.dumps(r) for r in rows])
    cli = Cli()
    config = ["-c", "IN", "--config", str(offline_config)]
    result = cli("register", "import", str(full), *config)
    assert result.exit_code == 0, result.output
    assert "created 2" in flat(result.stdout)

    smaller = _write(tmp_path / "smaller.jsonl", [json.dumps(rows[0])])
    result = cli("register", "import", str(smaller), "--format", "ndjson", "--missing", "withdraw", *config)
    assert result.exit_code == 0, result.output
    assert "created 1 (WITHDRAWN 1), unchanged 1, bad 0" in flat(result.stdout)
    assert cli.json("stats", *config)["register"] == {"STOLEN": 1, "WITHDRAWN": 1}


def test_unreadable_snapshot_is_one_clean_error(tmp_path: Path, offline_config: Path) -> None:
    no_header = _write(tmp_path / "bad.csv", ["foo,bar", "1,2"])
    result = Cli()("register", "import", str(no_header), "-c", "IN", "--config", str(offline_config))
    assert result.exit_code == EXIT_ERROR
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) <= 2  # one message (rich may wrap it)
    assert "imei" in result.stderr


def test_report_add_repeat_recover_withdraw(offline_config: Path) -> None:
    cli = Cli()
    config = ["-c", "IN", "--config", str(offline_config)]
    added = cli(
        "report", "add", A, "--kind", "stolen", "--case-ref", "FIR-1", "--reported-at", "2026-03-01", *config
    )
    assert added.exit_code == 0, added.output
    assert "reported STOLEN" in flat(added.stdout)
    assert "2026-03-01T00:00:00Z" in flat(added.stdout)
    again = cli("report", "add", f"imeisv-{A[:14]}07", "--kind", "STOLEN", "--case-ref", "FIR-1", *config)
    assert again.exit_code == 0, again.output
    assert "nothing to do" in flat(again.stdout)
    lost = cli("report", "add", A[:14], "-k", "LOST", "--reported-at", "1767225600", *config)
    assert "reported LOST (was STOLEN)" in flat(lost.stdout)
    recovered = cli("report", "recover", A, *config)
    assert recovered.exit_code == 0, recovered.output
    assert "RECOVERED" in recovered.stdout
    nothing = cli("report", "withdraw", B, *config)
    assert nothing.exit_code == EXIT_ERROR
    assert "has no active entry of this country to withdraw" in flat(nothing.stderr)
    stats = cli.json("stats", *config)
    assert stats["register"] == {"RECOVERED": 1}
    assert stats["outbox_depth"] == 3  # STOLEN, LOST, RECOVERED; the repeat wrote nothing


def test_check_of_an_unlisted_imei_is_whitelisted(offline_config: Path) -> None:
    data = Cli().json("check", f"imei-{D}", "-c", "BR", "--config", str(offline_config))
    assert data["status"] == "WHITELISTED"
    assert data["imei"] == D[:14]
    assert data["imei15"] == D
    assert data["contributing"] == []
    assert Cli().json("check", D[:14] + "07", "-c", "BR", "--config", str(offline_config))["imei"] == D[:14]
    plain = Cli()("check", D, "-c", "BR", "--config", str(offline_config))
    assert plain.exit_code == 0
    assert f"IMEI {D}: WHITELISTED" in plain.stdout
    history = Cli().json("history", D, "-c", "BR", "--config", str(offline_config))
    assert history == []


def test_report_add_with_a_clearing_kind_is_recover_or_withdraw(offline_config: Path) -> None:
    cli = Cli()
    config = ["-c", "IN", "--config", str(offline_config)]
    refused = cli("report", "add", C, "--kind", "RECOVERED", *config)
    assert refused.exit_code == EXIT_ERROR
    assert "no active entry of this country to recover" in flat(refused.stderr)
    assert cli("report", "add", C, "--kind", "LOST", *config).exit_code == 0
    cleared = cli("report", "add", C, "--kind", "withdrawn", *config)
    assert cleared.exit_code == 0, cleared.output
    assert "marked WITHDRAWN (was LOST)" in flat(cleared.stdout)
    assert cli.json("stats", *config)["register"] == {"WITHDRAWN": 1}


def test_an_unreachable_node_is_one_line_exit_1(offline_config: Path) -> None:
    cli = Cli()
    for command in (["publish"], ["sync"], ["audit", "verify"]):
        result = cli(*command, "-c", "IN", "--config", str(offline_config))
        assert result.exit_code == EXIT_ERROR, command
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: JSON-RPC call failed")
        assert "Connection refused" in line
