"""The row check by direct calls on literal rows: conversion, constraints, and the reason given."""

from __future__ import annotations

import pytest

from ftdata.config.models import ColumnSpec
from ftdata.read.schema import check_row

COLUMNS = {"Score": ColumnSpec(type="int", min=1, max=5),
           "Summary": ColumnSpec(type="str", required=False),
           "label": ColumnSpec(type="str", choices=["ham", "spam"])}


def test_a_good_row_is_converted_and_other_columns_pass_through():
    row, why = check_row({"Score": "4", "Summary": "Great", "label": "ham", "Id": "7"}, COLUMNS)
    assert why is None
    assert row == {"Score": 4, "Summary": "Great", "label": "ham", "Id": "7"}


def test_optional_columns_missing_become_none_and_empty_strings_stay():
    assert check_row({"Score": 1, "label": "spam"}, COLUMNS)[0]["Summary"] is None
    assert check_row({"Score": 1, "label": "spam", "Summary": ""}, COLUMNS)[0]["Summary"] == ""


@pytest.mark.parametrize("row,where", [
    ({"label": "ham"}, "Score"),                       # required and missing
    ({"Score": " ", "label": "ham"}, "Score"),         # required and empty
    ({"Score": "four", "label": "ham"}, "Score"),      # not an int
    ({"Score": 9, "label": "ham"}, "Score"),           # above max
    ({"Score": 3, "label": "eggs"}, "label"),          # not one of the choices
])
def test_a_bad_row_is_refused_with_a_reason_that_names_the_column(row, where):
    out, why = check_row(row, COLUMNS)
    assert out is None
    assert why.startswith(f"{where}: expected") or why.startswith(f"{where}: required")


def test_no_columns_declared_means_every_row_passes_unchanged():
    row = {"anything": object()}
    assert check_row(row, {}) == (row, None)
