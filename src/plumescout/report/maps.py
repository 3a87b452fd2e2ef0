"""Pictures: a PNG figure (map + time series) and a self-contained HTML map (inline SVG).

The HTML map needs no network: it draws the track, sources and 90 % regions as SVG in the local
frame, with a scale bar, a north arrow and the wind arrow; latitude/longitude show on hover.
"""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from ..geo import bearing_to_unit  # noqa: E402

__all__ = ["write_png", "write_html_map"]


def _wind_mean(obs):
    speed, from_deg = obs.wind.mean()
    return speed, from_deg


def write_png(path, obs, detection, sources, truth=None, title: str = "plumescout") -> Path:
    """Map of the track coloured by enhancement with sources, posterior samples and 90 % circles;
    below, the gas series with background, threshold and crossings."""
    fig = plt.figure(figsize=(11, 10), constrained_layout=True)
    gs = fig.add_gridspec(3, 1, height_ratios=[3.2, 1, 0.05])
    ax = fig.add_subplot(gs[0])
    enh = detection.enhancement_ppm
    vmax = max(float(np.nanpercentile(enh, 99.5)), 3 * detection.threshold_ppm)
    order = np.argsort(np.nan_to_num(enh))
    sc = ax.scatter(obs.x_m[order], obs.y_m[order], c=enh[order], s=4, cmap="magma_r", vmin=0, vmax=vmax, zorder=2)
    fig.colorbar(sc, ax=ax, label=f"{detection.species} enhancement (ppm)", shrink=0.8)
    for s in sources:
        if s.samples_xy.size:
            ax.scatter(s.samples_xy[::3, 0], s.samples_xy[::3, 1], s=2, color="tab:blue", alpha=0.15, zorder=3)
        ax.add_patch(Circle((s.x_m, s.y_m), s.location_ci90_m, fill=False, ec="tab:blue", lw=1.5, zorder=4))
        ax.plot(s.x_m, s.y_m, "o", color="tab:blue", ms=7, zorder=5)
        ax.annotate(
            f"{s.id}: {s.rate_g_s:.3g} g/s [{s.rate_g_s_ci90[0]:.3g}-{s.rate_g_s_ci90[1]:.3g}]\n"
            f"p={s.probability:.2f}, r90={s.location_ci90_m:.0f} m",
            (s.x_m, s.y_m),
            xytext=(8, 8),
            textcoords="offset points",
            fontsize=8,
            color="tab:blue",
            zorder=6,
        )
    if truth:
        for t in truth.get("sources", []):
            ax.plot(
                t["x_m"],
                t["y_m"],
                "*",
                color="limegreen",
                mec="k",
                ms=14,
                zorder=6,
                label="truth" if t is truth["sources"][0] else None,
            )
    speed, from_deg = _wind_mean(obs)
    fe, fn = bearing_to_unit(from_deg)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    L = 0.1 * max(x1 - x0, y1 - y0)
    cx, cy = x0 + 0.12 * (x1 - x0), y1 - 0.12 * (y1 - y0)
    ax.annotate(
        "",
        xy=(cx - fe * L / 2, cy - fn * L / 2),
        xytext=(cx + fe * L / 2, cy + fn * L / 2),
        arrowprops={"arrowstyle": "-|>", "lw": 2, "color": "k"},
    )
    ax.text(cx, cy - 0.7 * L, f"wind {speed:.1f} m/s from {from_deg:.0f}°", ha="center", fontsize=9)
    ax.set_aspect("equal")
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    ax.set_title(f"{title}: {len(sources)} source(s); blue dots = posterior samples, circles = 90 % regions")
    if truth:
        ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    ax2 = fig.add_subplot(gs[1])
    y = obs.species[detection.species]
    ax2.plot(obs.time_s, y, lw=0.6, color="0.3", label="reading")
    ax2.plot(obs.time_s, detection.background_ppm, color="tab:green", lw=1, label="background")
    ax2.plot(
        obs.time_s,
        detection.background_ppm + detection.threshold_ppm,
        color="tab:red",
        lw=0.8,
        ls="--",
        label=f"threshold ({detection.sigma_threshold:.1f} sigma)",
    )
    for a, b in detection.crossings:
        ax2.axvspan(obs.time_s[a], obs.time_s[min(b, len(obs) - 1)], color="tab:orange", alpha=0.3)
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel(f"{detection.species} (ppm)")
    ax2.set_title(
        f"{detection.n_crossings} plume crossing(s) (orange), "
        f"{detection.false_alarms_per_hour:g} false alarms/h by design"
    )
    ax2.legend(loc="upper right", fontsize=8)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_html_map(
    path, obs, detection, sources, truth=None, title: str = "plumescout report", max_points: int = 6000
) -> Path:
    """A self-contained HTML page (no network) with an SVG map and a table of sources."""
    xs = [obs.x_m, *(np.array([s.x_m - s.location_ci90_m, s.x_m + s.location_ci90_m]) for s in sources)]
    ys = [obs.y_m, *(np.array([s.y_m - s.location_ci90_m, s.y_m + s.location_ci90_m]) for s in sources)]
    if truth:
        xs.append(np.array([t["x_m"] for t in truth.get("sources", [])] or [0.0]))
        ys.append(np.array([t["y_m"] for t in truth.get("sources", [])] or [0.0]))
    x0, x1 = float(np.min(np.concatenate(xs))), float(np.max(np.concatenate(xs)))
    y0, y1 = float(np.min(np.concatenate(ys))), float(np.max(np.concatenate(ys)))
    pad = 0.06 * max(x1 - x0, y1 - y0, 1.0)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    W = 900.0
    scale = W / (x1 - x0)
    H = (y1 - y0) * scale

    def px(x):
        return (np.asarray(x) - x0) * scale

    def py(y):
        return (y1 - np.asarray(y)) * scale

    enh = detection.enhancement_ppm
    vmax = max(float(np.nanpercentile(enh, 99.5)), 3 * detection.threshold_ppm)
    cmap = matplotlib.colormaps["magma_r"]
    norm = colors.Normalize(0, vmax)
    step = max(1, len(obs) // max_points)
    parts = []
    idx = np.arange(0, len(obs), step)
    idx = idx[np.argsort(np.nan_to_num(enh[idx]))]
    for i in idx:
        c = colors.to_hex(cmap(norm(np.nan_to_num(enh[i]))))
        parts.append(
            f'<circle cx="{px(obs.x_m[i]):.1f}" cy="{py(obs.y_m[i]):.1f}" r="2" fill="{c}">'
            f"<title>t={obs.time_s[i]:.1f} s, {obs.lat[i]:.6f}, {obs.lon[i]:.6f}: "
            f"+{enh[i]:.3f} ppm</title></circle>"
        )
    for s in sources:
        parts.append(
            f'<circle cx="{px(s.x_m):.1f}" cy="{py(s.y_m):.1f}" r="{s.location_ci90_m * scale:.1f}" '
            f'fill="rgba(31,119,180,0.15)" stroke="#1f77b4" stroke-width="2"/>'
        )
        parts.append(
            f'<circle class="source" cx="{px(s.x_m):.1f}" cy="{py(s.y_m):.1f}" r="6" fill="#1f77b4">'
            f"<title>{html.escape(s.id)}: {s.lat:.6f}, {s.lon:.6f}; {s.rate_g_s:.3g} g/s</title></circle>"
        )
        parts.append(
            f'<text x="{px(s.x_m) + 9:.1f}" y="{py(s.y_m) - 9:.1f}" font-size="13" fill="#1f77b4">'
            f"{html.escape(s.id)} {s.rate_g_s:.3g} g/s</text>"
        )
    if truth:
        for t in truth.get("sources", []):
            parts.append(
                f'<text x="{px(t["x_m"]):.1f}" y="{py(t["y_m"]) + 6:.1f}" font-size="20" '
                f'text-anchor="middle" fill="#2ca02c">&#9733;<title>truth {t["rate_g_s"]} g/s</title></text>'
            )
    speed, from_deg = _wind_mean(obs)
    fe, fn = bearing_to_unit(from_deg)
    ax_, ay_ = 70.0, 70.0
    L = 45.0
    parts.append(
        f'<line x1="{ax_ + fe * L:.1f}" y1="{ay_ - fn * L:.1f}" x2="{ax_ - fe * L:.1f}" y2="{ay_ + fn * L:.1f}" '
        'stroke="black" stroke-width="3" marker-end="url(#arrow)"/>'
    )
    parts.append(
        f'<text x="{ax_:.1f}" y="{ay_ + 62:.1f}" font-size="12" text-anchor="middle">'
        f"wind {speed:.1f} m/s from {from_deg:.0f}&#176;</text>"
    )
    bar_m = 10 ** np.floor(np.log10((x1 - x0) / 4))
    parts.append(
        f'<line x1="{W - 30 - bar_m * scale:.1f}" y1="{H - 25:.1f}" x2="{W - 30:.1f}" y2="{H - 25:.1f}" '
        'stroke="black" stroke-width="3"/>'
    )
    parts.append(
        f'<text x="{W - 30 - bar_m * scale / 2:.1f}" y="{H - 32:.1f}" font-size="12" '
        f'text-anchor="middle">{bar_m:g} m</text>'
    )
    parts.append(f'<text x="{W - 30:.1f}" y="30" font-size="16" text-anchor="middle">N &#8593;</text>')
    rows = "".join(
        f"<tr><td>{html.escape(s.id)}</td><td>{s.lat:.6f}, {s.lon:.6f}</td><td>{s.rate_g_s:.4g}</td>"
        f"<td>{s.rate_g_s_ci90[0]:.4g} - {s.rate_g_s_ci90[1]:.4g}</td><td>{s.location_ci90_m:.1f}</td>"
        f"<td>{s.probability:.3f}</td></tr>"
        for s in sources
    )
    bar = "".join(
        f'<span style="background:{colors.to_hex(cmap(v))};display:inline-block;width:6px;height:12px"></span>'
        for v in np.linspace(0, 1, 40)
    )
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:20px;color:#222}} table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:4px 8px}} svg{{border:1px solid #888;background:#f8f8f4}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Track coloured by {html.escape(detection.species)} enhancement (0 {bar} {vmax:.3g} ppm); estimated sources in
blue with their 90 % regions{"; truth as green stars" if truth else ""}. Local frame about
{obs.frame.lat0:.6f}, {obs.frame.lon0:.6f} (east right, north up). Hover for coordinates.</p>
<svg id="map" xmlns="http://www.w3.org/2000/svg" width="{W:.0f}" height="{H:.0f}" viewBox="0 0 {W:.0f} {H:.0f}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="5" markerHeight="5"
orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>
{"".join(parts)}
</svg>
<h2>Sources</h2>
<table id="sources"><tr><th>id</th><th>lat, lon</th><th>rate (g/s)</th><th>90 % interval (g/s)</th>
<th>90 % radius (m)</th><th>probability</th></tr>{rows}</table>
<p>{detection.n_crossings} plume crossing(s); noise {detection.noise_ppm:.4g} ppm; threshold
{detection.threshold_ppm:.4g} ppm above background.</p>
</body></html>
"""
    path = Path(path)
    path.write_text(doc, encoding="utf-8")
    return path
