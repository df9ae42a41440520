"""Validates every section of the config at start-up, so a typo stops mailroom at once.

Each feature parses its own section (house rule: config is loaded and validated
once, then passed in); this calls them all, so an error in [media] or [[mailbox]]
is reported when mailroom starts, not when the first video arrives.
"""

from __future__ import annotations

from workers.config import Config


def check_all_sections(config: Config) -> None:
    """Raises ConfigError (file, key, problem) for the first bad setting of any section."""
    from web.settings import load_web_settings
    from workers.derive import media_settings
    from workers.imap_config import parse_mailboxes
    from workers.reports.settings import report_config
    from workers.scale_config import queue_settings, s3_settings

    parse_mailboxes(config.raw.get("mailbox"), file=config.label, base_dir=config.base_dir)
    media_settings(config)
    report_config(config)
    load_web_settings(config.raw, config.label, config.base_dir)
    queue_settings(config)
    storage = config.raw.get("storage", {})
    if isinstance(storage, dict) and storage.get("backend") == "s3":
        s3_settings(config)
