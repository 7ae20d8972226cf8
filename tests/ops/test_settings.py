"""Each setting is declared once, in the class of the process it belongs to, and the README's table of
environment variables says what those declarations say: the same names and the same defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from listener.config import ListenerConfig, ListenerSettings
from service.settings import ApiSettings
from sql.settings import PROJECT_ROOT, Settings

#: The variables the README documents that no settings class reads: the tests', the dashboard's, make run's.
NOT_APP_SETTINGS = re.compile(r"TEST_|FUTURISYS_")


def variables(settings_cls: type[BaseSettings]) -> dict[str, Any]:
    """{VARIABLE: default} of the fields `settings_cls` reads from the environment."""
    return {(f.alias or name).upper(): f.default for name, f in settings_cls.model_fields.items()}


def readme_table() -> dict[str, str]:
    """{VARIABLE: its default cell} of the README's environment table (a cell shared by several
    variables, "5, 5", is split among them)."""
    text = (PROJECT_ROOT / "README.md").read_text()
    section = text.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        names_cell, default_cell = (c.strip() for c in line.strip("|").split("|")[:2])
        names = re.findall(r"`([A-Z_]+)`", names_cell)
        defaults = default_cell.split(", ")
        for i, name in enumerate(names):
            table[name] = defaults[i] if len(defaults) == len(names) else default_cell
    return table


def spelled(default: Any) -> str:
    """A default as the README spells it."""
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, int) and default >= 2**20 and default % 2**20 == 0:
        return f"{default // 2**20} MiB"
    if isinstance(default, Path):
        return f"`{default.relative_to(PROJECT_ROOT)}`"
    if isinstance(default, frozenset) and not default:
        return "empty"
    if isinstance(default, str):
        return f"`{default}`" if default else "empty"
    return str(default)


def test_every_setting_is_declared_once() -> None:
    # The API's class adds its own settings to the shared ones and redeclares none of them; the
    # listener's reads variables that no other class reads.
    assert not set(ApiSettings.__annotations__) & set(Settings.model_fields)
    assert not variables(ListenerSettings).keys() & variables(ApiSettings).keys()


def test_the_readme_table_names_every_setting_with_the_default_that_applies() -> None:
    declared = variables(ApiSettings) | variables(ListenerSettings)
    table = readme_table()
    documented = {name for name in table if not NOT_APP_SETTINGS.match(name)}
    section = (PROJECT_ROOT / "README.md").read_text().split("## Environment variables", 1)[1]
    assert documented <= declared.keys(), "the README lists variables nothing reads"
    missing = {name for name in declared if f"`{name}`" not in section}
    assert not missing, "settings the README's table does not mention"
    for name in documented:
        default, cell = spelled(declared[name]), table[name]
        assert cell == default or cell.startswith(default + " "), (name, cell, declared[name])


def test_a_setting_given_to_a_class_that_does_not_declare_it_is_refused() -> None:
    # Not dropped silently: Settings(api_keys_required=True) would otherwise stand for an app asking no key.
    with pytest.raises(ValidationError, match="api_keys_required"):
        Settings(api_keys_required=True)
    assert ApiSettings(api_keys_required=True).api_keys_required


def test_the_listener_reads_its_variables_and_a_config_reads_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISTENER_BATCH_SIZE", "7")
    monkeypatch.setenv("LISTENER_EXPLAIN_AT_ANSWER", "logistic, dummy")
    settings = ListenerSettings()
    assert (settings.batch_size, settings.explain_at_answer) == (7, frozenset({"logistic", "dummy"}))
    config = ListenerConfig.from_settings(settings, "postgresql://db", batch_size=None, concurrency=3)
    assert (config.batch_size, config.concurrency, config.database_url) == (7, 3, "postgresql://db")
    assert ListenerConfig(database_url="postgresql://db").batch_size == 512


def test_the_listener_flags_help_states_the_defaults_of_their_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from listener.__main__ import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for variable in (
        "LISTENER_POLL_SECONDS",
        "LISTENER_CONCURRENCY",
        "LISTENER_BATCH_SIZE",
        "LISTENER_SWEEP_SECONDS",
    ):
        default = spelled(variables(ListenerSettings)[variable])
        assert f"({variable}, default {default})" in shown
