"""Text for spreadsheet cells: what could start a formula is prefixed, the rest is unchanged."""

from __future__ import annotations

import pytest

from pipeline.cells import csv_row, csv_text


@pytest.mark.parametrize(
    "text", ["=1+1", "+1", "-1+cmd", "@SUM(A1)", "\t=1", "\r=1", " =1", "\u3000@x"]
)
def test_text_that_could_start_a_formula_gets_an_apostrophe(text):
    assert csv_text(text) == "'" + text


@pytest.mark.parametrize("value", ["大连市教育局", "a=b", " x=1", "", "  ", 5, -3, None])
def test_other_values_are_unchanged(value):
    assert csv_text(value) == value


def test_rows_and_dict_rows():
    assert csv_row(["=x", "y", 1]) == ["'=x", "y", 1]
    assert csv_row({"a": "@x", "b": 2}) == {"a": "'@x", "b": 2}
