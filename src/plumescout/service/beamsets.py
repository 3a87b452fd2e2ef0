"""Beam and fixed-sensor data sets in the service: uploaded as one ZIP archive of the three CSVs
``plumescout analyze DIR --origin LAT,LON`` reads (``beams.csv``, ``measurements.csv``,
``wind.csv``; README "Formats"), with the origin given beside it.

The archive may hold them at its root or in one folder (a zipped directory); other members (a
README, a truth.json) are left out and listed. Only those three are ever written to disk, under
names of our choosing: a member's own path is never used (no path traversal), and each is read
at most ``limit`` bytes (no ZIP bomb). The readers are ``analyze``'s own, so a refusal names the
member, the line and the column exactly as the command line would.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import InputError
from ..geo import parse_latlon

__all__ = ["MEMBERS", "BeamSet", "is_beam_archive", "extract", "parse_origin", "species_of"]

MEMBERS = ("beams.csv", "measurements.csv", "wind.csv")
_SPECIES = re.compile(r"^\s*([a-z0-9]+)_path_avg_ppm\s*$", re.IGNORECASE)


@dataclass
class BeamSet:
    """The three CSVs written to ``directory``; the species of their readings; the members left out."""

    directory: Path
    species: str
    ignored: list[str] = field(default_factory=list)
    members: dict[str, str] = field(default_factory=dict)  # our name -> the member's path in the archive

    def where(self, exc: InputError, name: str) -> InputError:
        """``exc`` (raised by a reader on our copy) naming the archive and its member instead."""
        key = Path(exc.path).name
        path = f"{name}:{self.members.get(key, key)}"
        return InputError(path, exc.reason, line=exc.line, column=exc.column)


def is_beam_archive(path: Path) -> bool:
    """Whether an upload is a ZIP archive (a beam data set) rather than a flight log: it starts
    with a ZIP local file header (no flight log does: CSV is text, a tlog starts with a
    timestamp, DataFlash with 0xA3 0x95, ULog with 'ULog'). A damaged archive is still taken for
    one, so that its refusal says what is wrong with it."""
    with Path(path).open("rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def parse_origin(text: str | None, where: str) -> tuple[float, float]:
    """``"LAT,LON"`` (decimal degrees, WGS84) as a pair; a refusal names ``where`` and the field."""
    if text is None or not text.strip():
        raise InputError(where, "a beam data set is in local metres: give its origin as 'LAT,LON'", column="origin")
    try:
        return parse_latlon(text)
    except ValueError as exc:
        raise InputError(where, f"origin {exc}", column="origin") from None


def extract(archive: Path, directory: Path, name: str, limit: int) -> BeamSet:
    """Write the three CSVs of the ZIP ``archive`` (uploaded as ``name``) into ``directory``.
    Refused (:class:`InputError` naming ``name`` and the member): a damaged archive, a member
    missing or given twice, one larger than ``limit`` bytes unpacked."""
    directory.mkdir(parents=True, exist_ok=True)
    found: dict[str, zipfile.ZipInfo] = {}
    ignored: list[str] = []
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                base = PurePosixPath(info.filename.replace("\\", "/")).name
                if base.lower() not in MEMBERS:
                    ignored.append(info.filename)
                    continue
                key = base.lower()
                if key in found:
                    raise InputError(
                        f"{name}:{info.filename}", f"{key} is in the archive twice (also {found[key].filename})"
                    )
                found[key] = info
            missing = [m for m in MEMBERS if m not in found]
            if missing:
                raise InputError(
                    name, "a beam data set needs " + ", ".join(MEMBERS) + "; missing: " + ", ".join(missing)
                )
            for key, info in found.items():
                with zf.open(info) as src, (directory / key).open("wb") as dst:
                    size = 0
                    while block := src.read(1 << 20):
                        size += len(block)
                        if size > limit:
                            raise InputError(f"{name}:{info.filename}", f"larger than {limit >> 20} MB unpacked")
                        dst.write(block)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise InputError(name, f"not a readable ZIP archive ({exc})") from None
    members = {key: info.filename for key, info in found.items()}
    species = species_of(directory / "measurements.csv", f"{name}:{members['measurements.csv']}")
    return BeamSet(directory, species, ignored, members)


def track(beams, frame) -> dict:
    """The beams for the dashboard's map (in place of a flight track): each beam's ends in WGS84
    and its enhancement, the 90th percentile over its readings of the excess over the lowest
    reading of the same minute (the cleanest beam stands in for the background), in ppm."""
    import numpy as np

    from ..units import g_m3_to_ppm

    y, t, b = np.asarray(beams.y, float), np.asarray(beams.reading_time_s, float), np.asarray(beams.reading_beam)
    floor = np.empty_like(y)
    for minute in np.unique(t):
        at = t == minute
        floor[at] = y[at].min()
    excess = g_m3_to_ppm(y - floor, beams.species)
    lat0, lon0 = frame.to_wgs84(beams.beam_start[:, 0], beams.beam_start[:, 1])
    lat1, lon1 = frame.to_wgs84(beams.beam_end[:, 0], beams.beam_end[:, 1])
    out = []
    for i in range(len(beams.beam_start)):
        e = excess[b == i]
        out.append(
            {
                "lat": [round(float(lat0[i]), 8), round(float(lat1[i]), 8)],
                "lon": [round(float(lon0[i]), 8), round(float(lon1[i]), 8)],
                "enhancement_ppm": round(float(np.percentile(e, 90)), 5) if e.size else None,
                "readings": int(e.size),
            }
        )
    noise = float(g_m3_to_ppm(beams.noise_g_m3, beams.species))
    return {"species": beams.species, "threshold_ppm": round(noise, 6), "beams": out}


def species_of(path: Path, where: str) -> str:
    """The species of a measurements.csv: its one ``<species>_path_avg_ppm`` column."""
    with path.open(encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline()
    names = [m.group(1).lower() for h in header.split(",") if (m := _SPECIES.match(h))]
    if len(names) != 1:
        raise InputError(
            where,
            "the header needs exactly one '<species>_path_avg_ppm' column"
            + (f" (found {', '.join(names)})" if names else ""),
            line=1,
        )
    return names[0]
