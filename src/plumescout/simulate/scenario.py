"""Scenario files (TOML): the truth a simulated flight is flown through."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, InputError
from ..met import class_index

__all__ = [
    "Scenario",
    "SiteConfig",
    "SourceConfig",
    "WindConfig",
    "AircraftConfig",
    "SensorConfig",
    "FlightConfig",
    "load_scenario",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(_Model):
    """Site origin (WGS84) and the survey area as a polygon in local metres about it."""

    origin: tuple[float, float] = Field(description="[lat, lon] of the local frame origin")
    area_m: list[tuple[float, float]] = Field(min_length=3, description="polygon [[x_east, y_north], ...]")

    @field_validator("origin")
    @classmethod
    def _origin(cls, v):
        if not (-90 <= v[0] <= 90 and -180 <= v[1] <= 360):
            raise ValueError(f"origin {list(v)} is not [lat, lon] in degrees")
        return v


class SourceConfig(_Model):
    x_m: float
    y_m: float
    height_m: float = Field(default=1.0, ge=0)
    rate_g_s: float = Field(gt=0, description="emission of `species`")
    species: str = "ch4"
    mixture: dict[str, float] = Field(
        default_factory=dict, description="other species emitted, as molar ratios to `species` (e.g. c2h6 = 0.05)"
    )
    kind: str = Field(default="", description="what the source is (truth only: for scoring attribution)")

    @field_validator("mixture")
    @classmethod
    def _mix(cls, v):
        for k, r in v.items():
            if not r >= 0:
                raise ValueError(f"mixture ratio of '{k}' must be >= 0")
        return v

    def ratio(self, species: str) -> float:
        """Molar emission of ``species`` per mole of this source's own species."""
        return 1.0 if species == self.species else float(self.mixture.get(species, 0.0))


class WindConfig(_Model):
    speed_m_s: float = Field(gt=0.3, le=30)
    from_deg: float
    meander_deg: float = Field(default=12.0, ge=0, description="std of the slow direction wander")
    meander_timescale_s: float = Field(default=120.0, gt=0)
    gust_fraction: float = Field(default=0.15, ge=0, lt=1, description="std of speed / mean speed")
    gust_timescale_s: float = Field(default=20.0, gt=0)
    stability: str = "D"
    intermittency: float = Field(default=0.6, ge=0, description="log-std of puff-to-puff mass")
    relative_dispersion: float = Field(
        default=0.6, gt=0, le=1, description="puff width as a fraction of the plume width"
    )
    measurement_noise_speed_m_s: float = Field(default=0.3, ge=0)
    measurement_noise_dir_deg: float = Field(default=5.0, ge=0)

    @field_validator("stability")
    @classmethod
    def _stab(cls, v):
        class_index(v)
        return v


class AircraftConfig(_Model):
    speed_m_s: float = Field(default=8.0, gt=0)
    altitude_m: float = Field(default=10.0, gt=0)
    min_altitude_m: float = Field(default=5.0, gt=0)
    max_altitude_m: float = Field(default=120.0, gt=0)
    sample_rate_hz: float = Field(default=2.0, gt=0, le=100)
    endurance_s: float = Field(default=1800.0, gt=0)
    gps_noise_m: float = Field(default=0.5, ge=0)


class SensorConfig(_Model):
    species: str = "ch4"
    unit: Literal["ppm", "ppb"] = "ppm"
    background_ppm: float = Field(default=1.95, ge=0)
    drift_ppm_per_h: float = Field(default=0.02)
    response_time_s: float = Field(default=1.0, ge=0)
    noise_ppm: float = Field(default=0.01, ge=0)
    detection_limit_ppm: float = Field(default=0.05, gt=0)
    resolution_ppm: float = Field(default=0.001, ge=0)


class FlightConfig(_Model):
    pattern: Literal["survey", "waypoints"] = "survey"
    waypoints_m: list[tuple[float, float]] = Field(default_factory=list)
    line_spacing_m: float | None = Field(default=None, gt=0)
    reference_rate_g_s: float = Field(default=0.5, gt=0, description="rate the survey is planned to see")
    start_time: str = "2026-05-14T09:30:00Z"
    home_m: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _wps(self):
        if self.pattern == "waypoints" and len(self.waypoints_m) < 2:
            raise ValueError("pattern 'waypoints' needs at least two waypoints_m")
        return self


class Scenario(_Model):
    """A whole simulated mission: site, truth sources, wind, aircraft, sensor and flight plan."""

    name: str = "scenario"
    seed: int = 0
    site: SiteConfig
    sources: list[SourceConfig] = Field(min_length=0)
    wind: WindConfig
    aircraft: AircraftConfig = AircraftConfig()
    sensor: SensorConfig = SensorConfig()
    extra_sensors: list[SensorConfig] = Field(
        default_factory=list, description="more gas sensors on board, each with its own species and noise"
    )
    flight: FlightConfig = FlightConfig()
    temperature_k: float = 288.15
    pressure_pa: float = 101325.0

    @model_validator(mode="after")
    def _sensors(self):
        names = [self.sensor.species, *(e.species for e in self.extra_sensors)]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"two sensors measure the same species: {', '.join(dup)}")
        return self


def load_scenario(path) -> Scenario:
    """Read and validate a scenario TOML; errors name the file and the offending field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(path, f"not valid TOML: {exc}", line=line) from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"{path}: field '{loc}': {first['msg']}"
            + (f" ({len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else "")
        ) from None
