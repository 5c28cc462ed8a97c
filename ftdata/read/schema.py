"""Row schema check: convert and validate each column a recipe declares.

:func:`check_source_row` is the one row check: the source's ``rename`` and then its ``columns``
(:func:`check_row`). The build, preview (through the build's reader), lint and the studio all
call it, so a row the studio shows is a row the build keeps. It returns the converted row or the
reason it is rejected (naming the column, what was expected and what was found). Values from
CSV arrive as strings and are converted.
"""

from __future__ import annotations

import math
from typing import Any

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _short(value: Any, n: int = 60) -> str:
    s = repr(value)
    return s if len(s) <= n else s[: n - 3] + "..."


def _convert(name: str, value: Any, spec) -> tuple[Any, str | None]:
    t = spec.type
    if t == "any":
        return value, None
    if t == "str":
        if not isinstance(value, str):
            if isinstance(value, (int, float, bool)):
                return str(value), None
            return None, f"{name}: expected a string, found {type(value).__name__} {_short(value)}"
        return value, None
    if t == "int":
        if isinstance(value, bool):
            return None, f"{name}: expected an integer, found bool {value}"
        if isinstance(value, int):
            return value, None
        if isinstance(value, float) and value.is_integer():
            return int(value), None
        if isinstance(value, str):
            try:
                return int(value.strip()), None
            except ValueError:
                pass
        return None, f"{name}: expected an integer, found {_short(value)}"
    if t == "float":
        if isinstance(value, bool):
            return None, f"{name}: expected a number, found bool {value}"
        try:
            f = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            return None, f"{name}: expected a number, found {_short(value)}"
        if not math.isfinite(f):
            return None, f"{name}: expected a finite number, found {_short(value)}"
        return f, None
    if t == "bool":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE, None
        if isinstance(value, int) and value in (0, 1):
            return bool(value), None
        return None, f"{name}: expected true/false, found {_short(value)}"
    if t == "list":
        if isinstance(value, list):
            return value, None
        return None, f"{name}: expected a list, found {type(value).__name__}"
    return value, None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def check_row(row: dict[str, Any], columns: dict) -> tuple[dict[str, Any] | None, str | None]:
    """Validate ``row`` against ``columns`` (name -> ColumnSpec).

    Returns:
        ``(converted_row, None)`` or ``(None, reason)``.
    """
    if not columns:
        return row, None
    out = dict(row)
    for name, spec in columns.items():
        value = row.get(name)
        if name not in row or _empty(value):
            if spec.required:
                found = "missing column" if name not in row else f"empty value {_short(value)}"
                return None, f"{name}: required {spec.type} value, found {found}"
            # keep an empty string as it is (a template then sees "" and may not apply);
            # only a missing value becomes None
            out[name] = value if isinstance(value, str) else None
            continue
        value, err = _convert(name, value, spec)
        if err:
            return None, err
        if spec.min is not None and isinstance(value, (int, float)) and value < spec.min:
            return None, f"{name}: expected >= {spec.min:g}, found {value}"
        if spec.max is not None and isinstance(value, (int, float)) and value > spec.max:
            return None, f"{name}: expected <= {spec.max:g}, found {value}"
        if isinstance(value, str):
            if spec.min_length is not None and len(value.strip()) < spec.min_length:
                return None, f"{name}: expected at least {spec.min_length} characters, found {len(value.strip())}"
            if spec.max_length is not None and len(value) > spec.max_length:
                return None, f"{name}: expected at most {spec.max_length} characters, found {len(value)}"
        if spec.choices is not None and value not in spec.choices:
            return None, f"{name}: expected one of {spec.choices}, found {_short(value)}"
        out[name] = value
    return out, None


def check_source_row(data: dict[str, Any], src) -> tuple[dict[str, Any] | None, str | None]:
    """The row check of a source: rename its columns, then validate them (:func:`check_row`).

    Args:
        data: the row as read (column name -> value).
        src: the source spec (:class:`ftdata.config.recipe.SourceSpec`): its ``rename`` and ``columns``.

    Returns:
        ``(converted_row, None)`` or ``(None, reason)``.
    """
    if src.rename:
        data = {src.rename.get(k, k): v for k, v in data.items()}
    return check_row(data, src.columns)
