"""The archive refuses relative paths that would leave it, and resolves the ones inside."""

from __future__ import annotations

import pytest

from pipeline.errors import StorageError
from storage.archive import Archive


@pytest.mark.parametrize("rel", ["../x", "a/../../x", "/etc/passwd", "..", "a/b/../../../x"])
def test_paths_outside_the_archive_are_refused(tmp_path, rel):
    archive = Archive(tmp_path / "archive")
    with pytest.raises(StorageError, match="outside the archive"):
        archive.abspath(rel)


def test_paths_inside_are_normalised_under_the_root(tmp_path):
    archive = Archive(tmp_path / "archive")
    root = (tmp_path / "archive").resolve()
    assert archive.abspath("a/./b/../c.txt") == root / "a" / "c.txt"
    assert archive.abspath(".objects/ab/cd") == root / ".objects" / "ab" / "cd"
    assert archive.abspath(".") == root
