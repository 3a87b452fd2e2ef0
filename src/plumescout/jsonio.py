"""Read a JSON input file, or refuse it naming the file (and the line where it breaks)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError

__all__ = ["read_json"]


def read_json(path):
    """The parsed contents of ``path``; an unreadable file or invalid JSON is an
    :class:`~plumescout.errors.InputError` naming the file, and for JSON the line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not a text file (UTF-8)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"not valid JSON: {e.msg} (column {e.colno})", line=e.lineno) from None
