"""Imports the modules that add commands to `mailroom` (one line per module)."""
