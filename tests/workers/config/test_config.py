"""Config: defaults in code, relative paths, replacement of registries, one-line errors."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from tests.conftest import ROOT
from workers.config import build_config, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conf" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_config_holding_only_what_differs_gets_every_default(tmp_path):
    config = load_config(write(tmp_path, '[storage]\narchive_dir = "/srv/archive"\n'))
    assert config.storage.archive_dir == Path("/srv/archive")
    assert config.storage.database_url == f"sqlite:///{tmp_path / 'conf' / 'data' / 'mailroom.db'}"
    assert config.source.inbox_dir == tmp_path / "conf" / "inbox"
    assert config.campaign.name == "2023年辽宁省职业教育活动周"
    assert [k.code for k in config.campaign.kinds] == [
        "plan",
        "case",
        "manuscript",
        "photo",
        "video",
        "summary",
        "other",
    ]
    assert str(config.campaign.kind("summary").due) == "2023-06-01"
    codes = {u.code for u in config.units}
    assert {"shenyang", "huludao", "shenfu", "dlvtc"} <= codes
    assert sum(u.type == "city" for u in config.units) == 14


def test_relative_paths_resolve_against_the_config_files_folder(tmp_path):
    config = load_config(write(tmp_path, '[storage]\ndatabase_url = "sqlite:///db/x.db"\n'))
    assert config.storage.database_url == f"sqlite:///{tmp_path / 'conf' / 'db' / 'x.db'}"


def test_the_shipped_config_file_documents_the_true_defaults(tmp_path):
    """Uncommenting every setting in config.toml must change nothing."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^# ?((?:\[\[?[a-z0-9_.]+\]\]?|[a-z_]+ = ).*)$", r"\1", text)
    uncommented = "\n".join(
        line
        for line in uncommented.splitlines()
        if not line.startswith(
            (
                "[[units]]",
                'code = "shenyang"',
                'name = "沈阳市教育局"',
                'type = "city"',
                'aliases = ["沈阳"',
                'domains = ["example',
                "addresses = []",
                "units_file",
            )
        )
    )
    explicit = build_config(__import__("tomllib").loads(uncommented), None, tmp_path)
    default = build_config({}, None, tmp_path)
    assert explicit.campaign == default.campaign
    assert explicit.storage == default.storage
    assert explicit.identify == default.identify and explicit.limits == default.limits
    assert explicit.service == default.service
    assert explicit.department == default.department
    assert explicit.media == default.media and explicit.queue == default.queue
    assert explicit.reports == default.reports
    # the two [web] settings the shipped file switches on for `make run`
    assert replace(explicit.web, enabled=False, cookie_secure=True) == default.web
    assert [m.name for m in explicit.mailboxes] == ["official"]  # the commented example


def test_units_file_replaces_the_shipped_registry(tmp_path):
    units = tmp_path / "conf" / "u.toml"
    units.parent.mkdir(parents=True)
    units.write_text(
        '[[units]]\ncode = "a1"\nname = "甲单位"\ntype = "college"\n', encoding="utf-8"
    )
    config = load_config(write(tmp_path, 'units_file = "u.toml"\n'))
    assert [u.code for u in config.units] == ["a1"]


def test_inline_units_replace_the_shipped_registry(tmp_path):
    config = load_config(
        write(tmp_path, '[[units]]\ncode = "b2"\nname = "乙"\ndomains = ["@B.example.cn"]\n')
    )
    assert [(u.code, u.domains) for u in config.units] == [("b2", ("b.example.cn",))]


@pytest.mark.parametrize(
    "text,key,words",
    [
        ("[storage]\ndatabase_url = 5\n", "storage.database_url", "SQLAlchemy URL"),
        ("[identify]\nconfident_threshold = 3\n", "identify.confident_threshold", "between"),
        ('[[units]]\ncode = "x"\nname = "X"\ntype = "province"\n', "units[0].type", "not one of"),
        ('[[units]]\ncode = "沈阳"\nname = "X"\n', "units[0].code", "ASCII"),
        (
            '[campaign]\ncode = "c"\nname = "n"\nstart = 2024-05-01\nend = 2024-04-01\n'
            '[[kinds]]\ncode = "other"\nlabel = "其他"\n',
            "campaign.end",
            "before",
        ),
        ('[campaign]\ncode = "c"\n', "kinds", "together"),
        ('[log]\nlevel = "LOUD"\n', "log.level", "LOUD"),
        ('units_file = "missing.toml"\n', "units_file", "not found"),
        ("[storage\n", "(syntax)", ""),
        ('[storage]\narchive_diir = "x"\n', "storage.archive_diir", "unknown setting"),
        ('[sotrage]\narchive_dir = "x"\n', "sotrage", "unknown setting"),
    ],
)
def test_invalid_config_names_the_file_the_key_and_the_problem(tmp_path, text, key, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {key}: ") and words in message
    assert "\n" not in message


def test_next_years_campaign_is_a_config_change(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
[campaign]
code = "2024-week"
name = "2024年活动周"
start = 2024-05-12
end = 2024-05-18
[[kinds]]
code = "poster"
label = "海报"
due = 2024-05-10
keywords = ["海报"]
[[kinds]]
code = "other"
label = "其他"
required = false
""",
        )
    )
    assert config.campaign.label("poster") == "海报"
    assert config.campaign.kind("poster").keywords == ("海报",)
