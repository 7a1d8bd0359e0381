"""`bot.config.load_config`: defaults, the example file, secrets, environment overrides, one problem per bad key."""

from __future__ import annotations

import json
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from bot.config import ConfigError, Settings, load_config, load_storage

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"

TOKEN = "file-discord-token-AAA111"
KEY = "file-legnext-key-BBB222"
ENV_TOKEN = "env-discord-token-CCC333"
ENV_KEY = "env-legnext-key-DDD444"
MINIMAL = f'[discord]\ntoken = "{TOKEN}"\n\n[legnext]\napi_key = "{KEY}"\n'


@pytest.fixture(autouse=True)
def no_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.delenv("LEGNEXT_API_KEY", raising=False)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # ints, floats and plain strings are spelt the same in JSON and TOML


def with_values(values: dict[str, dict[str, Any]], *, token: str = TOKEN, key: str = KEY) -> str:
    sections: dict[str, dict[str, Any]] = {"discord": {"token": token}, "legnext": {"api_key": key}}
    for section, entries in values.items():
        sections.setdefault(section, {}).update(entries)
    lines: list[str] = []
    for section, entries in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in entries.items()]
    return "\n".join(lines) + "\n"


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems, "a ConfigError must name at least one problem"
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


# ------------------------------------------------------------------------------------------------ defaults


def test_defaults_apply_to_a_minimal_file(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, MINIMAL))
    assert s.discord.token.get_secret_value() == TOKEN and s.legnext.api_key.get_secret_value() == KEY
    assert s.discord.guild_ids == [] and s.discord.api_base_url == "" and s.discord.gateway_url == ""
    assert s.discord.guild_ready_timeout_s == 2.0
    assert s.legnext.base_url == "https://api.legnext.ai/api"
    assert s.legnext.timeout_s == 30 and s.legnext.read_retries == 4
    assert s.storage.database == "mjbot.sqlite3"
    j = s.jobs
    assert (j.poll_min_s, j.poll_max_s) == (2.0, 15.0)
    assert (j.timeout_image_s, j.timeout_text_s, j.timeout_video_s) == (900, 300, 2700)
    assert j.status_edit_interval_s == 5.0 and j.button_access == "anyone"
    lim = s.limits
    assert (lim.running_per_member, lim.queued_per_member, lim.member_daily_points, lim.server_daily_points) == (
        3, 10, 0, 0)
    assert lim.allowed_role_ids == lim.allowed_channel_ids == lim.banned_words == [] and lim.paused is False
    assert s.legnext.concurrency == 6
    assert j.rehost_images is True and j.max_download_mb == 10.0
    assert s.moderation.moderator_role_ids == [] and s.moderation.alert_channel_id == 0


def test_values_from_the_file_are_used(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, with_values({
        "discord": {"guild_ids": [1, 2], "api_base_url": "http://127.0.0.1:1/api/v10", "gateway_url": "ws://h/g"},
        "legnext": {"base_url": "http://127.0.0.1:8787/api/", "timeout_s": 5, "read_retries": 0},
        "storage": {"database": "data/x.sqlite3"},
        "jobs": {"button_access": "requester_and_moderators", "rehost_images": False},
        "limits": {"running_per_member": 1, "banned_words": ["  gore ", "blood  moon"]},
        "moderation": {"moderator_role_ids": [9], "alert_channel_id": 77},
    })))
    assert s.discord.guild_ids == [1, 2] and s.discord.gateway_url == "ws://h/g"
    assert s.legnext.base_url == "http://127.0.0.1:8787/api"  # trailing slash dropped
    assert s.legnext.timeout_s == 5 and s.legnext.read_retries == 0
    assert s.storage.database == "data/x.sqlite3"
    assert s.limits.running_per_member == 1 and s.jobs.button_access == "requester_and_moderators"
    assert s.limits.banned_words == ["gore", "blood moon"]
    assert s.jobs.rehost_images is False
    assert s.moderation.moderator_role_ids == [9] and s.moderation.alert_channel_id == 77


# ------------------------------------------------------------------------------------------------ the example


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out |= _keys(ann, f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


def _toml_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in data.items():
        out |= _toml_keys(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
    return out


def test_example_file_loads_documents_every_key_and_shows_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    # every key the bot knows is in the example, and the example has no key the bot refuses
    assert _toml_keys(data) == _keys(Settings)
    # every key line carries a comment
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"undocumented key in config.example.toml: {line!r}"
    # the example, with the secrets from the environment, loads...
    monkeypatch.setenv("DISCORD_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("LEGNEXT_API_KEY", ENV_KEY)
    example = load_config(EXAMPLE)
    assert example.discord.token.get_secret_value() == ENV_TOKEN
    # ...and "every key is shown with its default"
    defaults = load_config(write(tmp_path, ""))
    assert example == defaults


def test_example_without_secrets_names_both_missing_secrets() -> None:
    problems = problems_of(EXAMPLE)
    assert len(problems) == 2
    assert problems[0].startswith("discord.token: missing") and "DISCORD_TOKEN" in problems[0]
    assert problems[1].startswith("legnext.api_key: missing") and "LEGNEXT_API_KEY" in problems[1]


# ------------------------------------------------------------------------------------------------ secrets


def test_secrets_are_secretstr_and_never_in_a_repr(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, MINIMAL))
    assert isinstance(s.discord.token, SecretStr) and isinstance(s.legnext.api_key, SecretStr)
    for text in (repr(s), str(s), repr(s.discord), repr(s.legnext), s.model_dump_json(), str(s.model_dump())):
        assert TOKEN not in text and KEY not in text


def test_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, MINIMAL)
    monkeypatch.setenv("DISCORD_TOKEN", ENV_TOKEN)
    s = load_config(path)
    assert s.discord.token.get_secret_value() == ENV_TOKEN and s.legnext.api_key.get_secret_value() == KEY
    monkeypatch.setenv("LEGNEXT_API_KEY", ENV_KEY)
    s = load_config(path)
    assert s.discord.token.get_secret_value() == ENV_TOKEN and s.legnext.api_key.get_secret_value() == ENV_KEY


def test_environment_alone_is_enough_and_keeps_the_rest_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("LEGNEXT_API_KEY", ENV_KEY)
    s = load_config(write(tmp_path, '[discord]\nguild_ids = [5]\n[legnext]\ntimeout_s = 7\n'))
    assert s.discord.token.get_secret_value() == ENV_TOKEN and s.discord.guild_ids == [5]
    assert s.legnext.api_key.get_secret_value() == ENV_KEY and s.legnext.timeout_s == 7


def test_an_empty_environment_variable_does_not_hide_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", "")
    s = load_config(write(tmp_path, MINIMAL))
    assert s.discord.token.get_secret_value() == TOKEN


@pytest.mark.parametrize("token", ["", "   "])
def test_blank_secrets_are_missing(tmp_path: Path, token: str) -> None:
    problems = problems_of(write(tmp_path, with_values({}, token=token)))
    assert len(problems) == 1 and problems[0].startswith("discord.token: missing")


def _secret_texts(secret: str) -> list[str]:
    """Config files with `secret` where the file is valid, in a wrongly typed secret, and in a wrong place."""
    return [
        with_values({"legnext": {"timeout_s": 0}}, token=secret, key=secret + "k"),
        f'[discord]\ntoken = ["{secret}"]\n[legnext]\napi_key = {{ v = "{secret}" }}\n',
        with_values({"discord": {"guild_ids": [secret]}, "jobs": {"button_access": secret}}),
        with_values({"discord": {"api_base_url": secret}, "legnext": {"base_url": secret}}),
        with_values({"storage": {"database": 5, "tokn": secret}}),
        f'[discord]\ntoken = {secret}\n',  # not TOML
        f'[discord]\ntoken = "{secret}\n',  # unterminated string
    ]


def _problems(texts: list[str]) -> list[list[str]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(texts):
            path = write(Path(tmp), text, f"c{i}.toml")
            with pytest.raises(ConfigError) as caught:
                load_config(path)
            out.append(caught.value.problems)
    return out


SENTINEL = "Qq7Qq7Qq7Qq7"


@settings(max_examples=40, deadline=None)
@given(secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", min_size=8,
                      max_size=60))
def test_no_problem_ever_shows_a_secret(secret: str) -> None:
    """The secret sits where the file is valid, in a wrongly typed secret, and in a wrong place."""
    # a "secret" that the sentences contain anyway (e.g. "timeout_", from "legnext.timeout_s") proves nothing
    assume(secret not in " ".join(p for ps in _problems(_secret_texts(SENTINEL)) for p in ps))
    texts = _secret_texts(secret)
    for text, problems in zip(texts, _problems(texts), strict=True):
        for problem in problems:
            assert secret not in problem, (text, problem)


# ------------------------------------------------------------------------------------------------ bad values


BAD_VALUES = [
    ("discord", "guild_ids", ["x"]),
    ("discord", "guild_ids", 5),
    ("discord", "guild_ready_timeout_s", -1),
    ("discord", "api_base_url", "discord.com/api/v10"),
    ("discord", "gateway_url", "https://gateway.discord.gg"),
    ("discord", "token", 12345678),
    ("legnext", "timeout_s", 0),
    ("legnext", "timeout_s", -5),
    ("legnext", "read_retries", -1),
    ("legnext", "base_url", "ftp://api.legnext.ai/api"),
    ("legnext", "base_url", "api.legnext.ai/api"),
    ("storage", "database", ""),
    ("storage", "database", 3),
    ("jobs", "poll_min_s", 0),
    ("jobs", "poll_max_s", 1.0),  # below the default poll_min_s of 2.0
    ("jobs", "timeout_image_s", 0),
    ("jobs", "status_edit_interval_s", -1),
    ("limits", "running_per_member", 0),
    ("limits", "running_per_member", 51),
    ("limits", "running_per_member", 1.5),
    ("limits", "queued_per_member", -1),
    ("limits", "member_daily_points", -5),
    ("limits", "banned_words", [""]),
    ("limits", "paused", "sometimes"),
    ("legnext", "concurrency", 0),
    ("jobs", "max_running_per_member", 3),  # moved to [limits]
    ("jobs", "button_access", "everyone"),
    ("jobs", "rehost_images", "maybe"),
    ("jobs", "max_download_mb", 0),
    ("moderation", "moderator_role_ids", "123"),
    ("moderation", "alert_channel_id", "general"),
    ("moderation", "balance_alert_points", -1),
    ("moderation", "balance_alert_points", "lots"),
    ("moderation", "balance_check_interval_s", 0),
]


@pytest.mark.parametrize(("section", "key", "value"), BAD_VALUES, ids=[f"{s}.{k}={v!r}" for s, k, v in BAD_VALUES])
def test_a_bad_value_is_one_problem_naming_its_key(tmp_path: Path, section: str, key: str, value: Any) -> None:
    problems = problems_of(write(tmp_path, with_values({section: {key: value}})))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{section}.{key}"), problems
    assert ": " in problems[0] and len(problems[0].split(": ", 1)[1]) > 5  # says what is wrong
    assert TOKEN not in problems[0] and KEY not in problems[0]


GOOD_EDGES = [
    ("legnext", "timeout_s", 1),
    ("legnext", "timeout_s", 600),
    ("moderation", "balance_check_interval_s", 60),
    ("moderation", "balance_check_interval_s", 86400),
    ("moderation", "balance_alert_points", 0),
    ("jobs", "timeout_image_s", 60),
    ("jobs", "timeout_image_s", 86400),
    ("jobs", "max_download_mb", 1),
    ("jobs", "max_download_mb", 100),
    ("jobs", "not_found_grace_s", 0),
    ("legnext", "read_retries", 0),
    ("legnext", "base_url", "http://localhost:8787/api"),
    ("limits", "running_per_member", 1),
    ("limits", "running_per_member", 50),
    ("limits", "queued_per_member", 0),
    ("legnext", "concurrency", 1),
    ("jobs", "poll_max_s", 2.0),  # equal to poll_min_s
    ("jobs", "status_edit_interval_s", 0),
    ("jobs", "button_access", "requester"),
    ("discord", "guild_ready_timeout_s", 0),
    ("discord", "gateway_url", "wss://gateway.discord.gg"),
    ("discord", "api_base_url", "https://discord.com/api/v10"),
    ("storage", "database", ":memory:"),
]


@pytest.mark.parametrize(("section", "key", "value"), GOOD_EDGES, ids=[f"{s}.{k}={v!r}" for s, k, v in GOOD_EDGES])
def test_edge_values_are_accepted(tmp_path: Path, section: str, key: str, value: Any) -> None:
    s = load_config(write(tmp_path, with_values({section: {key: value}})))
    assert getattr(getattr(s, section), key) == value


def test_one_problem_per_bad_key(tmp_path: Path) -> None:
    text = with_values({
        "discord": {"tokn": 1, "guild_ids": ["x"]},
        "legnext": {"timeout_s": 0, "base_url": "ftp://x"},
        "jobs": {"max_running_per_member": 0, "button_access": "all"},
        "limits": {"running_per_member": 0},
        "webhooks": {"url": "x"},
    })
    problems = problems_of(write(tmp_path, text))
    keys = [p.split(":", 1)[0] for p in problems]
    assert sorted(keys) == sorted([
        "discord.tokn", "discord.guild_ids.0", "legnext.timeout_s", "legnext.base_url",
        "jobs.max_running_per_member", "jobs.button_access", "webhooks", "limits.running_per_member",
    ])
    assert "jobs.max_running_per_member: moved to [limits] running_per_member (rename it there)" in problems
    assert "discord.tokn: unknown key" in problems and "webhooks: unknown key" in problems


@pytest.mark.parametrize(("value", "kind"), [("5", "a number"), ('"fast"', "a string"), ("[1, 2]", "a list"),
                                             ("true", "true/false"), ("2.5", "a number")])
def test_a_section_that_is_not_a_table(tmp_path: Path, value: str, kind: str) -> None:
    problems = problems_of(write(tmp_path, f'jobs = {value}\n[discord]\ntoken = "{TOKEN}"\n'
                                           f'[legnext]\napi_key = "{KEY}"\n'))
    assert problems == [f"jobs: must be a table (section), not {kind}"]


def test_a_secret_section_that_is_not_a_table_does_not_show_it(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, f'discord = "{TOKEN}"\n[legnext]\napi_key = "{KEY}"\n'))
    assert problems == ["discord: must be a table (section), not a string"]


# Operator-facing bounds: the file is refused with the allowed range; `Settings(**data)` (tests) is not bound by them.
OUT_OF_RANGE = [
    ("jobs", "timeout_image_s", 30, "jobs.timeout_image_s: must be between 60 and 86400 seconds (not 30)"),
    ("jobs", "timeout_image_s", 0, "jobs.timeout_image_s: must be between 60 and 86400 seconds (not 0)"),
    ("jobs", "timeout_video_s", 100000, "jobs.timeout_video_s: must be between 60 and 86400 seconds (not 100000)"),
    ("jobs", "timeout_text_s", 5, "jobs.timeout_text_s: must be between 30 and 86400 seconds (not 5)"),
    ("jobs", "max_download_mb", 500, "jobs.max_download_mb: must be between 1 and 100 MB (not 500)"),
    ("jobs", "max_download_mb", 0.5, "jobs.max_download_mb: must be between 1 and 100 MB (not 0.5)"),
    ("legnext", "timeout_s", 0.001, "legnext.timeout_s: must be between 1 and 600 seconds (not 0.001)"),
    ("jobs", "delivery_give_up_s", 1, "jobs.delivery_give_up_s: must be between 60 and 604800 seconds (not 1)"),
    ("moderation", "balance_check_interval_s", 5,
     "moderation.balance_check_interval_s: must be between 60 and 86400 seconds (not 5)"),
]


@pytest.mark.parametrize(("section", "key", "value", "line"), OUT_OF_RANGE,
                         ids=[f"{s}.{k}={v!r}" for s, k, v, _ in OUT_OF_RANGE])
def test_values_that_make_no_sense_are_refused_with_the_allowed_range(
    tmp_path: Path, section: str, key: str, value: Any, line: str
) -> None:
    assert problems_of(write(tmp_path, with_values({section: {key: value}}))) == [line]


def test_range_problems_come_with_the_other_problems(tmp_path: Path) -> None:
    text = with_values({"jobs": {"timeout_image_s": 10, "button_access": "all"}, "legnext": {"timeout_s": 0}})
    problems = problems_of(write(tmp_path, text))
    assert sorted(p.split(":", 1)[0] for p in problems) == [
        "jobs.button_access", "jobs.timeout_image_s", "legnext.timeout_s"]
    assert "legnext.timeout_s: must be between 1 and 600 seconds (not 0)" in problems


def test_settings_built_in_code_are_not_bound_by_the_operator_ranges() -> None:
    s = Settings(discord={"token": TOKEN}, legnext={"api_key": KEY, "timeout_s": 0.5},
                 jobs={"timeout_image_s": 1.0, "poll_min_s": 0.05, "max_download_mb": 0.00001})
    assert s.jobs.timeout_image_s == 1.0 and s.legnext.timeout_s == 0.5


def test_simulator_mode_does_not_require_the_legnext_key(tmp_path: Path) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\n')
    assert problems_of(path) == [
        "legnext.api_key: missing: set it in the file or in the LEGNEXT_API_KEY environment variable"]
    s = load_config(path, simulator=True)
    assert s.discord.token.get_secret_value() == TOKEN
    # the Discord token is still required
    assert [p.split(":")[0] for p in problems_of_sim(write(tmp_path, "", "empty.toml"))] == ["discord.token"]


def problems_of_sim(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, simulator=True)
    return caught.value.problems


def test_load_storage_needs_no_secrets(tmp_path: Path) -> None:
    assert load_storage(write(tmp_path, '[storage]\ndatabase = "x.sqlite3"\n')).database == "x.sqlite3"
    assert load_storage(write(tmp_path, "", "empty.toml")).database == "mjbot.sqlite3"
    with pytest.raises(ConfigError) as caught:
        load_storage(write(tmp_path, 'storage = 5\n', "bad.toml"))
    assert caught.value.problems == ["storage: must be a table (section), not a number"]
    with pytest.raises(ConfigError) as caught:
        load_storage(write(tmp_path, '[storage]\ndatabase = ""\n', "blank.toml"))
    assert caught.value.problems[0].startswith("storage.database: ")


# ------------------------------------------------------------------------------------------------ the file itself


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "config.toml"
    problems = problems_of(path)
    assert len(problems) == 1 and str(path) in problems[0] and "not found" in problems[0]


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    problems = problems_of(tmp_path)  # a directory
    assert len(problems) == 1 and str(tmp_path) in problems[0] and "cannot read" in problems[0]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(f"[discord\ntoken = '{TOKEN}'\n".encode(), id="bad-table"),
        pytest.param(f'[discord]\ntoken = "{TOKEN}"\ntoken = "{TOKEN}"\n'.encode(), id="duplicate-key"),
        pytest.param(b'[discord]\ntoken = "\xff\xfe"\n', id="not-utf8"),
    ],
)
def test_invalid_toml_is_one_problem_naming_the_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    problems = problems_of(path)
    assert len(problems) == 1 and str(path) in problems[0] and "not valid TOML" in problems[0]
    assert TOKEN not in problems[0]
