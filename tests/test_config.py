"""Settings: defaults with no file, the TOML file, `dealctl config`."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SHARED, Cli


def test_works_with_no_config_file(cli: Cli, isolated: Path) -> None:
    assert not (isolated / "config.toml").exists()
    assert cli("config", "get", "currency") == "JPY\n"
    assert cli("config", "get", "lost_reasons.no-budget") == "予算なし\n"
    assert cli("config", "path") == f"{isolated / 'config.toml'}\n"


def test_set_then_get_and_the_setting_applies(cli: Cli, isolated: Path) -> None:
    cli("config", "set", "currency", "USD")
    assert "comments in that file are not kept" in cli.stderr
    assert cli("config", "get", "currency") == "USD\n"
    cli("add", "A", "--amount", "1,200.50", "-q")
    assert cli("list", "--format", "csv").splitlines()[1].split(",")[9:11] == ["120050", "USD"]


def test_bad_values_are_refused_and_the_file_kept(cli: Cli, isolated: Path) -> None:
    cli("config", "set", "owner", "佐藤")
    before = (isolated / "config.toml").read_text(encoding="utf-8")
    cli("config", "set", "timezone", "Asia/Tokio", code=2)
    assert cli.stderr.startswith("dealctl: unknown time zone 'Asia/Tokio'")
    cli("config", "set", "pipeline", "nowhere", code=2)
    assert "default pipeline 'nowhere' is not defined" in cli.stderr
    assert (isolated / "config.toml").read_text(encoding="utf-8") == before


def test_case_18_a_config_with_a_byte_order_mark_loads(cli: Cli, isolated: Path) -> None:
    (isolated / "config.toml").write_bytes((SHARED / "cases" / "case-18.toml").read_bytes())
    assert cli("config", "get", "display.timezone") == "Asia/Tokyo\n"


def test_a_broken_file_names_the_file_and_the_cause(cli: Cli, isolated: Path) -> None:
    (isolated / "config.toml").write_text("currency = \n", encoding="utf-8")
    cli("list", code=1)
    assert cli.stderr.startswith(f"dealctl: config {isolated / 'config.toml'} is not valid TOML")
    assert cli.stderr.count("\n") == 1


def test_time_zone_decides_today(cli: Cli, isolated: Path) -> None:
    # 23:30 UTC on 2 December is already 3 December in Tokyo.
    env = {"DEALCTL_NOW": "2026-12-02T23:30:00+00:00"}
    cli("config", "set", "timezone", "Asia/Tokyo")
    cli("add", "A", "--next", "call", "--due", "today", env=env)
    assert cli("due", "--format", "csv", env=env).splitlines()[1].split(",")[14] == "2026-12-03"
    cli("config", "set", "timezone", "UTC")
    assert cli("due", "--today", "-q", env=env) == ""
    assert cli("due", "-q", env=env) == ""
    assert cli("due", "--within", "1d", "-q", env=env) == "1\n"


def test_the_won_stage_must_come_last(cli: Cli, isolated: Path) -> None:
    (isolated / "config.toml").write_text(
        '[pipelines.b2b]\nstages = [{key = "a"}, {key = "w", kind = "won"}, {key = "b"}]\n',
        encoding="utf-8",
    )
    cli("add", "A", code=1)
    assert "exactly one last stage of kind 'won'" in cli.stderr


def test_a_stage_removed_from_the_config_retires_and_history_keeps_it(
    cli: Cli, isolated: Path
) -> None:
    cli("add", "A", "--stage", "hearing")
    cli("add", "B")
    (isolated / "config.toml").write_text(
        "[pipelines.b2b]\nstages = [\n"
        ' {key = "approach", probability = 10},\n'
        ' {key = "proposal", probability = 40},\n'
        ' {key = "contract", kind = "won"},\n]\n',
        encoding="utf-8",
    )
    cli("advance", "2")
    assert cli("show", "2", "--format", "json").count('"stage": "proposal"') == 1
    assert "created at hearing" in cli("show", "1")
    (isolated / "config.toml").unlink()
    cli("advance", "2", "approach")
    cli("advance", "2")
    assert '"stage": "hearing"' in cli("show", "2", "--format", "json")


def test_a_deal_at_a_retired_stage_advances_only_to_a_named_stage(cli: Cli, isolated: Path) -> None:
    cli("add", "A", "--stage", "hearing")
    (isolated / "config.toml").write_text(
        "[pipelines.b2b]\nstages = [\n"
        ' {key = "approach", probability = 10},\n'
        ' {key = "proposal", probability = 40},\n'
        ' {key = "negotiation", probability = 70},\n'
        ' {key = "contract", kind = "won"},\n]\n',
        encoding="utf-8",
    )
    cli("log", "1", "called")  # a write: the configuration's stages are synced
    # hearing's old place (2) is proposal's now: the next one would be a guess.
    cli("advance", "1", code=1)
    assert cli.stderr == (
        "dealctl: deal 1 is at hearing, a stage no longer configured: name the stage,"
        " dealctl advance 1 STAGE (approach, proposal, negotiation, contract)\n"
    )
    assert "problem" in cli("doctor", "--format", "csv", code=1)
    assert cli.stderr == "dealctl: doctor found 1 problem\n"
    cli("advance", "1", "proposal")
    assert '"stage": "proposal"' in cli("show", "1", "--format", "json")
    cli("doctor")


def test_date_order_reads_typed_day_month_dates(cli: Cli, isolated: Path) -> None:
    cli("add", "A", "--next", "call", "--due", "03/04/2027", code=2)
    assert cli.stderr.startswith("dealctl: ambiguous due date '03/04/2027'")
    cli("config", "set", "date_order", "dmy")
    cli("add", "A", "--next", "call", "--due", "03/04/2027", "--close", "31/5/2027")
    cli("config", "set", "date_order", "mdy")
    cli("edit", "1", "--close", "5/30/2027")
    deal = cli("show", "1", "--format", "json")
    assert '"next_due": "2027-04-03"' in deal and '"close_date": "2027-05-30"' in deal
