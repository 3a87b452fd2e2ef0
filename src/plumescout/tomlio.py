"""Reading user TOML files into validated settings: one place for the error messages."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .errors import InputError

__all__ = ["load_toml_model"]


def load_toml_model(path, model: type[BaseModel]):
    """Parse ``path`` as TOML and validate it as ``model``; any problem is an
    :class:`~plumescout.errors.InputError` naming the file (and the field at fault)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(path, f"cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, f"not valid TOML: {e}") from None
    try:
        return model.model_validate(doc)
    except ValidationError as e:
        er = e.errors()[0]
        where = ".".join(str(x) for x in er["loc"])
        raise InputError(path, f"{where}: {er['msg']}".replace("Value error, ", "")) from None
