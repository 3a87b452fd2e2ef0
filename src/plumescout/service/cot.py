"""Cursor-on-Target (CoT 2.0) events for TAK clients, and pushing them to a TAK server.

One event per source report: a spot-map marker (``b-m-p-s-m``, which ATAK/WinTAK draw as a marker;
never a casualty/medevac type), coordinates at full double precision (pytak's own event builder
truncates to 4 decimals, ~11 m, so the XML is written here), and the location uncertainty as
``ce``, which CoT defines as a one-sigma circular error in metres (a flight's 90 % ellipse, which
CoT's point cannot carry, is given in the remarks: its semi-axes, as the GeoJSON, KML and dashboard
give them beside the radius, and the long axis' bearing).

The report's region is the radius holding 90 % of the posterior location mass. For a circular
2-D normal, P(r <= R) = 1 - exp(-R^2 / (2 sigma^2)), so sigma = R90 / sqrt(2 ln 10) = R90 / 2.146.

Transport goes through pytak (TCP ``tcp://host:port`` or TLS ``tls://host:port`` with a client
certificate), so TLS settings mean what they mean for every other pytak client.
"""

from __future__ import annotations

import asyncio
import math
import warnings
import xml.etree.ElementTree as ET
from configparser import ConfigParser
from datetime import UTC, datetime, timedelta

from ..report.geojson import near_crossing_remark

__all__ = ["COT_TYPE", "R90_PER_SIGMA", "ce_from_r90", "report_event", "send_events", "push_events"]

COT_TYPE = "b-m-p-s-m"
R90_PER_SIGMA = math.sqrt(2.0 * math.log(10.0))
UNKNOWN = "9999999.0"  # CoT's value for an unknown hae / le


def ce_from_r90(r90_m: float) -> float:
    """One-sigma circular error from the radius of the 90 % region (circular normal)."""
    return float(r90_m) / R90_PER_SIGMA


def _time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def report_event(report, stale_s: float = 86400.0, when: datetime | None = None) -> bytes:
    """The CoT XML event of one report (``lat``, ``lon``, ``location_ci90_m``, ``uid``, ...). The
    uid is the report's, so a later event replaces the marker; a dismissed report's event is stale
    on arrival, which removes it from TAK maps."""
    t = when or datetime.now(UTC)
    if report.status == "dismissed":  # stale at once: a TAK client that receives it drops the marker
        stale_s = 0.0
    ev = ET.Element(
        "event",
        version="2.0",
        uid=f"plumescout.{report.uid}",
        type=COT_TYPE,
        how="m-f",
        time=_time(t),
        start=_time(t),
        stale=_time(t + timedelta(seconds=stale_s)),
    )
    ET.SubElement(
        ev,
        "point",
        lat=repr(float(report.lat)),
        lon=repr(float(report.lon)),
        hae=UNKNOWN,
        ce=repr(round(ce_from_r90(report.location_ci90_m), 3)),
        le=UNKNOWN,
    )
    detail = ET.SubElement(ev, "detail")
    ET.SubElement(detail, "contact", callsign=report.title[:60])
    rate = f"{report.rate_g_s:.3g} g/s [{report.rate_g_s_lo:.3g}, {report.rate_g_s_hi:.3g}] (90 %)"
    cls = f"; class {report.source_class}" if report.source_class else ""
    props = (getattr(report, "feature", None) or {}).get("properties") or {}
    flags = props.get("flags") or []
    ell = props.get("location_ci90_ellipse")  # flights: the same 90 % region as an ellipse
    ellipse = (
        f" (ellipse semi-axes {ell['semi_major_m']:.0f} x {ell['semi_minor_m']:.0f} m, long axis "
        f"{ell['major_axis_azimuth_deg']:.0f} deg from north)"
        if ell
        else ""
    )
    widened = near_crossing_remark(props.get("near_crossing_widening"))  # flights: a plume seen only near it
    ET.SubElement(detail, "remarks").text = (
        f"plumescout {report.species} source, {rate}; P(exists) {report.probability:.2f}; "
        f"90 % radius {report.location_ci90_m:.1f} m{ellipse}{widened}{cls}; status {report.status}"
        + "".join(f"; warning: {f.replace('_', ' ')}" for f in flags)
    )
    ET.SubElement(detail, "color", argb=str(_argb(report.status)))
    return ET.tostring(ev, encoding="utf-8", xml_declaration=True)


def _argb(status: str) -> int:
    """Signed 32-bit ARGB as TAK stores it: red confirmed, yellow candidate, grey dismissed."""
    rgb = {"confirmed": 0xFFFF0000, "candidate": 0xFFFFD700, "dismissed": 0xFF9E9E9E}[status]
    return rgb - (1 << 32)


async def send_events(url: str, events: list[bytes], tls: dict | None = None, timeout_s: float = 10.0) -> None:
    """Send events to a TAK server or any CoT listener: ``tcp://host:port`` or ``tls://host:port``
    (``tls``: pytak settings such as ``PYTAK_TLS_CLIENT_CERT``, ``PYTAK_TLS_CLIENT_KEY``,
    ``PYTAK_TLS_CLIENT_CAFILE``)."""
    with warnings.catch_warnings():  # pytak warns about extras (aiohttp) used only for enrollment
        warnings.simplefilter("ignore", UserWarning)
        import pytak

    if url.split("://", 1)[0].lower() not in ("tcp", "tls", "ssl"):
        raise ValueError(f"TAK URL must be tcp:// or tls://, not {url!r}")

    cfg = ConfigParser()
    cfg["plumescout"] = {"COT_URL": url, **(tls or {})}
    reader, writer = await asyncio.wait_for(pytak.protocol_factory(cfg["plumescout"]), timeout_s)
    try:
        for e in events:
            writer.write(e)
        await asyncio.wait_for(writer.drain(), timeout_s)
    finally:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), timeout_s)
        except (ConnectionError, TimeoutError):
            pass


def push_events(url: str, events: list[bytes], tls: dict | None = None, timeout_s: float = 10.0) -> None:
    """:func:`send_events` from synchronous code."""
    asyncio.run(send_events(url, events, tls, timeout_s))
