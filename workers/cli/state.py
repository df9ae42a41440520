"""What the `mailroom` group hands to every command: the config file and a lazily opened context."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.config import Config, find_config_path, load_config

if TYPE_CHECKING:  # workers.app loads SQLAlchemy; `mailroom --help` does not need it
    from workers.app import AppContext


class State:
    """The config file and the context, opened on first use and closed when the command ends."""

    def __init__(self, config_path: str | None, debug: bool):
        self.config_path, self.debug = config_path, debug
        self._ctx: AppContext | None = None

    def config(self) -> Config:
        """Returns the whole config, built and checked once (every section, every key)."""
        return load_config(find_config_path(self.config_path))

    def app(self, *, distributed: bool = False) -> AppContext:
        """Returns the context, opened once; `distributed`: jobs go to the [queue] broker."""
        if self._ctx is None:
            from workers.app import open_context, setup_logging

            config = self.config()
            setup_logging(config.log_level if not self.debug else "DEBUG")
            self._ctx = open_context(config, distributed=distributed)
        return self._ctx

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.close()
