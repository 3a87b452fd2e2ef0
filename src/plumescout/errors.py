"""One exception tree for everything plumescout refuses."""

from __future__ import annotations

__all__ = ["PlumescoutError", "InputError", "ConfigError"]


class PlumescoutError(Exception):
    """Base of every error plumescout raises on purpose."""


class InputError(PlumescoutError):
    """An input file that cannot be used.

    The message names the file and, where it applies, the line (1-based, as an editor shows it)
    and the column, so that the user can go and fix it.
    """

    def __init__(self, path, message: str, line: int | None = None, column: str | None = None):
        self.path = str(path)
        self.line = line
        self.column = column
        self.reason = message
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {message}")


class ConfigError(PlumescoutError):
    """A scenario, plan or setting that is invalid."""
