"""Signature libraries: source classes as user data (TOML), never code.

A class lists the molar enhancement ratio of each species to its reference species (ratio 1) and
the spread of each ratio between sites (a multiplicative 1-sigma factor, default 1.3). A species
that appears anywhere in the library but not in a class is expected to stay at background for
that class. See ``plumescout/data/signatures.toml`` for the shipped generic examples.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SourceClass", "SignatureLibrary", "load_library", "default_library"]


class SourceClass(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    reference: str
    ratios: dict[str, float]
    spread: dict[str, float] = {}
    default_spread: float = Field(default=1.3, ge=1.0)

    @model_validator(mode="after")
    def _check(self):
        if self.ratios.get(self.reference) != 1.0:
            raise ValueError(f"class '{self.name}': the reference species '{self.reference}' must have ratio 1")
        for sp, r in self.ratios.items():
            if not r > 0:
                raise ValueError(f"class '{self.name}': ratio of '{sp}' must be > 0 (leave a species out for 'none')")
        for sp, f in self.spread.items():
            if sp not in self.ratios:
                raise ValueError(f"class '{self.name}': spread given for '{sp}', which has no ratio")
            if f < 1.0:
                raise ValueError(f"class '{self.name}': spread of '{sp}' is a factor >= 1, got {f}")
        return self

    def spread_of(self, species: str) -> float:
        return 1.0 if species == self.reference else self.spread.get(species, self.default_spread)


class SignatureLibrary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "signatures"
    classes: list[SourceClass] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self):
        names = [c.name for c in self.classes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"class names must be unique: {', '.join(dup)}")
        if "unknown" in names:
            raise ValueError("'unknown' is reserved for the unknown-composition class")
        return self

    @property
    def species(self) -> list[str]:
        out: list[str] = []
        for c in self.classes:
            out += [s for s in c.ratios if s not in out]
        return out


def load_library(path) -> SignatureLibrary:
    from ..tomlio import load_toml_model

    return load_toml_model(path, SignatureLibrary)


def default_library() -> SignatureLibrary:
    from importlib import resources

    with resources.as_file(resources.files("plumescout") / "data" / "signatures.toml") as p:
        return load_library(p)
