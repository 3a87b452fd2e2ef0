"""Pictures: a PNG report figure and a self-contained HTML map (inline SVG).

The PNG has the posterior map (density of sampled source positions over the area, with the
track or beams, estimated sources and their 90 % regions, truth if known, wind arrow), the rate
posterior of each source, and the residuals of the fit. The HTML map needs no network: it draws
the track (coloured by enhancement) or the beams, sources and 90 % regions as SVG in the local
frame, with a scale bar, a north arrow and the wind arrow; latitude/longitude show on hover.
"""

from __future__ import annotations

import html
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors, patheffects  # noqa: E402
from matplotlib.patches import Circle, Ellipse  # noqa: E402

from ..geo import bearing_to_unit  # noqa: E402
from ..inference.data import point_sensors  # noqa: E402
from ..met import class_letter  # noqa: E402
from ..units import g_m3_to_ppm  # noqa: E402

__all__ = ["write_png", "write_html_map", "ReportView", "posterior_density"]


class ReportView:
    """What the pictures draw: sources, and a flight (observations + detection) or beams."""

    def __init__(
        self, frame, sources, obs=None, detection=None, beams=None, wind=None, truth=None, estimator=None, species="ch4"
    ):
        self.frame, self.sources, self.obs, self.detection = frame, sources, obs, detection
        self.beams, self.truth, self.estimator, self.species = beams, truth, estimator, species
        if wind is None and obs is not None:
            wind = obs.wind.mean()
        self.wind = wind  # (speed, from_deg)

    def extent(self):
        xs, ys = [], []
        if self.obs is not None:
            xs.append(self.obs.x_m)
            ys.append(self.obs.y_m)
        if self.beams is not None:
            a, b = self.beams
            xs += [a[:, 0], b[:, 0]]
            ys += [a[:, 1], b[:, 1]]
        for s in self.sources:
            xs.append(np.array([s.x_m - s.location_ci90_m, s.x_m + s.location_ci90_m]))
            ys.append(np.array([s.y_m - s.location_ci90_m, s.y_m + s.location_ci90_m]))
        for t in (self.truth or {}).get("sources", []):
            xs.append(np.array([t["x_m"]]))
            ys.append(np.array([t["y_m"]]))
        x, y = np.concatenate(xs), np.concatenate(ys)
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())


MAX_LEGEND_BEAMS = 10
"""Up to this many beams the residual plot colours and names each; more are a network, one colour."""


def _wind_arrow(ax, view):
    if view.wind is None:
        return
    speed, from_deg = view.wind
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


def posterior_density(ax, est, extent, bins: int = 120):
    """Shade the posterior density of the sampled source positions of a fitted estimator over
    ``extent`` (x0, y0, x1, y1; probability of a source per cell, log colours). Returns the mesh
    (for a colour bar), or None when the chain holds no source."""
    allp = np.concatenate([p for p in est.chain_.positions if len(p)] or [np.empty((0, 2))])
    if not len(allp):
        return None
    x0, y0, x1, y1 = extent
    h, xe, ye = np.histogram2d(allp[:, 0], allp[:, 1], bins=bins, range=[[x0, x1], [y0, y1]])
    h = h / len(est.chain_.positions)
    if not (h > 0).any():
        return None
    return ax.pcolormesh(
        xe,
        ye,
        np.ma.masked_less_equal(h.T, 0),
        cmap="Blues",
        norm=colors.LogNorm(vmin=max(h[h > 0].min(), 1e-4), vmax=h.max()),
        zorder=1,
    )


def write_png(path, view: ReportView, title: str = "plumescout") -> Path:
    """The report figure: posterior map, rate posteriors, residuals of the fit."""
    fig = plt.figure(figsize=(13, 11), constrained_layout=True)
    # residuals of the fit: the flight's (one series per aircraft) and the beams' (observed against
    # fitted), a panel each when both were fitted together
    est = view.estimator
    fits = est.fitted() if est is not None else []
    points = [f for f in fits if f["kind"] == "point"]
    beams = [f for f in fits if f["kind"] != "point"]
    cells = [c for c in (points, beams) if c]
    if len(cells) > 1:
        gs = fig.add_gridspec(2, 3, height_ratios=[2.3, 1], width_ratios=[1.2, 1, 1])
    else:
        gs = fig.add_gridspec(2, 2, height_ratios=[2.3, 1], width_ratios=[1.6, 1])
    ax = fig.add_subplot(gs[0, :])
    x0, y0, x1, y1 = view.extent()
    pad = 0.05 * max(x1 - x0, y1 - y0, 1.0)
    # posterior density of sampled source positions
    if est is not None and getattr(est, "chain_", None) is not None:
        bx0, by0, bx1, by1 = est.box_
        im = posterior_density(ax, est, (bx0, by0, bx1, by1), bins=120)
        if im is not None:
            fig.colorbar(im, ax=ax, label="posterior: probability of a source per cell", shrink=0.7, pad=0.01)
            x0, y0 = min(x0, bx0), min(y0, by0)
            x1, y1 = max(x1, bx1), max(y1, by1)
    if view.obs is not None and view.detection is not None:
        enh = view.detection.enhancement_ppm
        vmax = max(float(np.nanpercentile(enh, 99.5)), 3 * view.detection.threshold_ppm)
        order = np.argsort(np.nan_to_num(enh))
        sc = ax.scatter(
            view.obs.x_m[order], view.obs.y_m[order], c=enh[order], s=4, cmap="magma_r", vmin=0, vmax=vmax, zorder=2
        )
        fig.colorbar(sc, ax=ax, label=f"{view.detection.species} enhancement (ppm)", shrink=0.7, pad=0.01)
    if view.beams is not None:
        a, b = view.beams
        point = point_sensors(a, b)
        lines = np.flatnonzero(~point)
        for n, i in enumerate(lines):
            ax.plot(
                [a[i, 0], b[i, 0]],
                [a[i, 1], b[i, 1]],
                color="tab:orange",
                lw=2,
                zorder=2,
                label="beams" if n == 0 else None,
            )
        if point.any():
            ax.plot(a[point, 0], a[point, 1], "^", color="tab:orange", ms=4, zorder=2, label="point sensors")
    for s in view.sources:
        # a region that rests on one plume crossing is drawn dashed: it holds the truth less often
        weak = _weak_region(s)
        ls = "--" if weak else "-"
        ell = getattr(s, "ellipse_ci90_m", None)
        if ell is not None:  # flights: the ellipse is the tighter region; the circle (its radius) faint
            a, b, azimuth = ell
            ax.add_patch(
                Ellipse(
                    (s.x_m, s.y_m), 2 * a, 2 * b, angle=90.0 - azimuth, fill=False, ec="navy", lw=1.5, ls=ls, zorder=4
                )
            )
            ax.add_patch(Circle((s.x_m, s.y_m), s.location_ci90_m, fill=False, ec="navy", lw=0.7, ls=":", alpha=0.6))
        else:
            ax.add_patch(Circle((s.x_m, s.y_m), s.location_ci90_m, fill=False, ec="navy", lw=1.5, ls=ls, zorder=4))
        # a source of low probability (``low_probability``) is drawn hollow: confirm it before acting.
        # The map names it; the legend says what it is (long labels of neighbours ran into each other)
        low = _low_probability(s)
        a = getattr(s, "attribution", None) or {}
        kind = f" [{a['source_class']} {a['class_probabilities'][a['source_class']]:.2f}]" if a else ""
        ax.plot(
            s.x_m, s.y_m, "o", color="navy", mfc="white" if low else "navy", mew=1.5, ms=7 if low else 6, zorder=5,
            label=f"{s.id}{kind}: {s.rate_g_s:.3g} g/s, p={s.probability:.2f}{' (confirm)' if low else ''}, "
            f"r90={s.location_ci90_m:.0f} m" + (f" ({weak})" if weak else ""),
        )  # fmt: skip
    for i, t in enumerate((view.truth or {}).get("sources", [])):
        ax.plot(t["x_m"], t["y_m"], "*", color="limegreen", mec="k", ms=14, zorder=6, label="truth" if i == 0 else None)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    _wind_arrow(ax, view)
    ax.set_aspect("equal")
    ax.set_anchor("C")
    name_sources(ax, view.sources)
    ax.set_xlabel("east (m)")
    ax.set_ylabel("north (m)")
    shape = (
        "ellipses (dotted: as a circle)" if any(getattr(s, "ellipse_ci90_m", None) for s in view.sources) else "circles"
    )
    # two lines: a long flight name with the key runs off the figure
    hollow = "; hollow dots: low probability, confirm" if any(_low_probability(s) for s in view.sources) else ""
    ax.set_title(f"{title}: {len(view.sources)} source(s)\nshading = posterior density, {shape} = 90 % regions{hollow}")
    if view.sources or view.truth or view.beams is not None:
        # below the map: inside it, the legend covered the wind arrow or the track
        n = len(ax.get_legend_handles_labels()[1])
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8, ncol=2 if n > 3 else 1, frameon=False)
    if warn := _warnings(getattr(est, "info_", None) or {}):  # this figure is what the service shows
        # wrapped to the figure's width (13 in at 10 pt holds about 150 characters a line)
        text = "\n".join(textwrap.fill(f"warning: {w}", 140) for w in warn)
        fig.suptitle(text, color="#b00000", fontsize=10)
    ax.grid(alpha=0.3)

    # rate posteriors
    ax2 = fig.add_subplot(gs[1, 0])
    truth_rates = [t.get("rate_g_s") for t in (view.truth or {}).get("sources", [])]
    # the sources' colours leave out the cycle's green (C2): green is the truth's, here and on the map
    colours = [f"C{k}" for k in range(10) if k != 2]
    for i, s in enumerate(view.sources):
        if s.samples_rate.size:
            c = colours[i % len(colours)]
            ax2.hist(s.samples_rate, bins=40, histtype="step", lw=1.5, density=True, color=c, label=s.id)
            ax2.axvline(s.rate_g_s, color=c, ls="--", lw=1)
    for r in truth_rates:
        if r is not None:
            ax2.axvline(r, color="limegreen", lw=2)
    ax2.set_xlabel("emission rate (g/s)")
    ax2.set_ylabel("posterior density")
    ax2.set_title("rate posteriors (dashed: median; green: truth)" if truth_rates else "rate posteriors")
    if view.sources:
        ax2.legend(fontsize=8)

    if cells:
        for j, cell in enumerate(cells):
            ax3 = fig.add_subplot(gs[1, 1 + j])
            name = ("flight" if cell is points else "beams") if len(cells) > 1 else None
            if cell is points:
                rms = _point_residuals(ax3, points, view.species)
            else:
                rms = _beam_residuals(ax3, beams[0], view)
            ax3.legend(fontsize=7, ncol=2)
            head = f"{name}: residuals" if name else "residuals of the fit"
            ax3.set_title(f"{head} (rms {rms:.3g} ppm)")
    else:
        ax3 = fig.add_subplot(gs[1, 1])
        ax3.text(0.5, 0.5, "no plume detected: nothing fitted", ha="center", va="center", transform=ax3.transAxes)
        ax3.set_axis_off()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _point_residuals(ax, fits, species) -> float:
    """Observed and fitted enhancement along the flight, one pair of lines per aircraft; the rms."""
    for n, g in enumerate(fits):  # one per aircraft flown at the same time
        craft = f" (aircraft {n + 1})" if len(fits) > 1 else ""
        o, m = g_m3_to_ppm(g["observed"], species), g_m3_to_ppm(g["fitted"], species)
        grey = "0.4" if n == 0 else "0.65"
        ax.plot(g["time_s"], o, lw=0.6, color=grey, label=f"observed enhancement{craft}")
        ax.plot(g["time_s"], m, lw=1.0, color=f"C{3 + n}", label=f"fitted (best state){craft}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("ppm")
    obs = g_m3_to_ppm(np.concatenate([g["observed"] for g in fits]), species)
    fit = g_m3_to_ppm(np.concatenate([g["fitted"] for g in fits]), species)
    return float(np.sqrt(np.mean((obs - fit) ** 2)))


def _beam_residuals(ax, f, view) -> float:
    """Observed against fitted readings, coloured by beam (one colour for a network); the rms."""
    obs = g_m3_to_ppm(f["observed"], view.species)
    fit = g_m3_to_ppm(f["fitted"], view.species)
    groups = np.unique(f["group"])
    if groups.size <= MAX_LEGEND_BEAMS:
        for bm in groups:
            m = f["group"] == bm
            ax.scatter(fit[m], obs[m], s=6, label=f"beam {bm + 1}")
    else:  # a network: one colour, one legend entry
        ax.scatter(fit, obs, s=6, label=f"{obs.size} readings of {groups.size} sensors")
    lim = [min(obs.min(), fit.min()), max(obs.max(), fit.max())]
    ax.plot(lim, lim, "k--", lw=1)
    what = "reading" if view.beams is not None and point_sensors(*view.beams).all() else "path-average"
    ax.set_xlabel(f"fitted {what} (ppm)")
    ax.set_ylabel(f"observed {what} (ppm)")
    return float(np.sqrt(np.mean((obs - fit) ** 2)))


def name_sources(ax, sources) -> list:
    """Each source's id beside its dot on the map ``ax`` (its limits set), up and right of it and
    nudged clear of the other names and dots (adjustText), a white halo keeping it legible over
    the posterior's shading. Returns the texts."""
    if not sources:
        return []
    from adjustText import adjust_text

    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    off = 0.012 * max(x1 - x0, y1 - y0)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    names = [
        ax.text(s.x_m + off, s.y_m + off, s.id, fontsize=9, fontweight="bold", color="navy", zorder=6,
                path_effects=halo)
        for s in sources
    ]  # fmt: skip
    adjust_text(
        names,
        x=[s.x_m for s in sources],
        y=[s.y_m for s in sources],
        ax=ax,
        arrowprops={"arrowstyle": "-", "color": "navy", "lw": 0.6},
        time_lim=2.0,
    )
    return names


def _weak_region(source) -> str:
    """Why a source's 90 % region is drawn dashed ("" if it is not): it rests on one plume crossing
    (``single_crossing``: such regions held 0.45 of the truths near the source, session 20)."""
    return "one crossing: fly the follow-up" if "single_crossing" in (getattr(source, "flags", None) or []) else ""


def _low_probability(source) -> bool:
    """Whether a source is flagged ``low_probability`` (drawn hollow on the maps)."""
    return "low_probability" in (getattr(source, "flags", None) or [])


def _warnings(info: dict) -> list[str]:
    """What the reader of a report must not miss: sources flagged by the estimate (``info_``)."""
    out = []
    if edge := info.get("sources_at_edge"):
        out.append(
            f"the 90 % region of {', '.join(edge)} reaches the edge of the search area: the source may lie "
            "outside it (analyze --max-margin widens the area)."
        )
    if cap := info.get("sources_at_rate_cap"):
        out.append(
            f"the rate of {', '.join(cap)} presses against the rate prior's cap: the source may be stronger "
            "than reported (analyze --max-rate raises the cap)."
        )
    if one := info.get("sources_on_one_crossing"):
        out.append(
            f"{', '.join(one)} seen on one plume crossing at most: how far upwind it lies rests on the plume "
            "model's width alone (fly lines across the wind over its region: plumescout follow-up plans them)."
        )
    if low := info.get("sources_low_probability"):
        from ..inference.estimate import LOW_PROBABILITY_EVIDENCE

        out.append(
            f"{', '.join(low)} reported at a probability of existing below {info.get('low_probability', 0.7):g}: "
            f"{LOW_PROBABILITY_EVIDENCE}; confirm before acting (plumescout follow-up plans lines across the wind "
            "over them)."
        )
    return out


def write_html_map(
    path, view: ReportView, title: str = "plumescout report", max_points: int = 6000, figures=()
) -> Path:
    """A self-contained HTML page (no network) with an SVG map and a table of sources; ``figures``
    are (heading, PNG path) pairs embedded as data URIs below the table."""
    x0, y0, x1, y1 = view.extent()
    pad = 0.06 * max(x1 - x0, y1 - y0, 1.0)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    W = 900.0
    scale = W / (x1 - x0)
    H = (y1 - y0) * scale

    def px(x):
        return (np.asarray(x) - x0) * scale

    def py(y):
        return (y1 - np.asarray(y)) * scale

    frame = view.frame
    cmap = matplotlib.colormaps["magma_r"]
    parts = []
    legend = ""
    if view.obs is not None and view.detection is not None:
        obs, det = view.obs, view.detection
        enh = det.enhancement_ppm
        vmax = max(float(np.nanpercentile(enh, 99.5)), 3 * det.threshold_ppm)
        norm = colors.Normalize(0, vmax)
        step = max(1, len(obs) // max_points)
        idx = np.arange(0, len(obs), step)
        idx = idx[np.argsort(np.nan_to_num(enh[idx]))]
        for i in idx:
            c = colors.to_hex(cmap(norm(np.nan_to_num(enh[i]))))
            parts.append(
                f'<circle cx="{px(obs.x_m[i]):.1f}" cy="{py(obs.y_m[i]):.1f}" r="2" fill="{c}">'
                f"<title>t={obs.time_s[i]:.1f} s, {obs.lat[i]:.6f}, {obs.lon[i]:.6f}: "
                f"+{enh[i]:.3f} ppm</title></circle>"
            )
        bar = "".join(
            f'<span style="background:{colors.to_hex(cmap(v))};display:inline-block;width:6px;height:12px"></span>'
            for v in np.linspace(0, 1, 40)
        )
        legend = f"Track coloured by {html.escape(det.species)} enhancement (0 {bar} {vmax:.3g} ppm). "
    if view.beams is not None:
        a, b = view.beams
        point = point_sensors(a, b)
        for i in range(len(a)):
            if point[i]:
                parts.append(
                    f'<circle class="sensor" cx="{px(a[i, 0]):.1f}" cy="{py(a[i, 1]):.1f}" r="3" fill="#ff7f0e">'
                    f"<title>sensor {i + 1}</title></circle>"
                )
            else:
                parts.append(
                    f'<line class="beam" x1="{px(a[i, 0]):.1f}" y1="{py(a[i, 1]):.1f}" x2="{px(b[i, 0]):.1f}" '
                    f'y2="{py(b[i, 1]):.1f}" stroke="#ff7f0e" stroke-width="3"><title>beam {i + 1}</title></line>'
                )
        legend = "Point sensors in orange. " if point.all() else "Open-path beams in orange. "
    for s in view.sources:
        weak = _weak_region(s)
        dash = ' stroke-dasharray="8 5"' if weak else ""
        why = f" ({weak})" if weak else ""
        ell = getattr(s, "ellipse_ci90_m", None)
        if ell is not None:  # SVG's y runs down: a bearing theta east of north is rotate(theta - 90)
            a, b, azimuth = ell
            cx, cy = px(s.x_m), py(s.y_m)
            parts.append(
                f'<ellipse class="region" cx="{cx:.1f}" cy="{cy:.1f}" rx="{a * scale:.1f}" ry="{b * scale:.1f}" '
                f'transform="rotate({azimuth - 90.0:.1f} {cx:.1f} {cy:.1f})" fill="rgba(31,119,180,0.15)" '
                f'stroke="#1f77b4" stroke-width="2"{dash}><title>{html.escape(s.id)}: 90 % region, {a:.0f} x {b:.0f} m '
                f"along {azimuth:.0f} deg{why}</title></ellipse>"
            )
        parts.append(
            f'<circle class="region" cx="{px(s.x_m):.1f}" cy="{py(s.y_m):.1f}" r="{s.location_ci90_m * scale:.1f}" '
            + (
                'fill="none" stroke="#1f77b4" stroke-width="1" stroke-dasharray="2 3" opacity="0.6">'
                if ell is not None
                else f'fill="rgba(31,119,180,0.15)" stroke="#1f77b4" stroke-width="2"{dash}>'
            )
            + f"<title>{html.escape(s.id)}: 90 % region, {s.location_ci90_m:.0f} m{why}</title></circle>"
        )
        low = _low_probability(s)  # drawn hollow: confirm it before acting
        parts.append(
            f'<circle class="source" cx="{px(s.x_m):.1f}" cy="{py(s.y_m):.1f}" r="6" '
            + ('fill="white" stroke="#1f77b4" stroke-width="2.5">' if low else 'fill="#1f77b4">')
            + f"<title>{html.escape(s.id)}: {s.lat:.6f}, {s.lon:.6f}; {s.rate_g_s:.3g} g/s; p={s.probability:.2f}"
            + (" (low: confirm before acting)" if low else "")
            + "</title></circle>"
        )
        parts.append(
            f'<text x="{px(s.x_m) + 9:.1f}" y="{py(s.y_m) - 9:.1f}" font-size="13" fill="#1f77b4">'
            f"{html.escape(s.id)} {s.rate_g_s:.3g} g/s</text>"
        )
    for t in (view.truth or {}).get("sources", []):
        parts.append(
            f'<text x="{px(t["x_m"]):.1f}" y="{py(t["y_m"]) + 6:.1f}" font-size="20" '
            f'text-anchor="middle" fill="#2ca02c">&#9733;<title>truth</title></text>'
        )
    if view.wind is not None:
        speed, from_deg = view.wind
        fe, fn = bearing_to_unit(from_deg)
        ax_, ay_, L = 70.0, 70.0, 45.0
        parts.append(
            f'<line x1="{ax_ + fe * L:.1f}" y1="{ay_ - fn * L:.1f}" x2="{ax_ - fe * L:.1f}" '
            f'y2="{ay_ + fn * L:.1f}" stroke="black" stroke-width="3" marker-end="url(#arrow)"/>'
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
        f"<td>{s.probability:.3f}</td><td>{_kind_cell(s)}</td></tr>"
        for s in view.sources
    )
    foot = ""
    if view.detection is not None:
        d = view.detection
        foot = (
            f"<p>{d.n_crossings} plume crossing(s); noise {d.noise_ppm:.4g} ppm; threshold "
            f"{d.threshold_ppm:.4g} ppm above background.</p>"
        )
    info = getattr(view.estimator, "info_", None) or {}
    if info.get("sensor_response_s") is not None:  # fitted (or given): it shifts the sources
        foot += (
            f"<p>Sensor response time {info['sensor_response_s']:.2g} s; source height "
            f"{info.get('source_height_m', float('nan')):.2g} m; plume width "
            f"{info.get('horizontal_width_factor', float('nan')):.2g} of the tabulated (posterior medians).</p>"
        )
        if info.get("stability_index_fitted") is not None:  # flights: the class the fit settled on
            fitted, wind = info["stability_index_fitted"], info.get("stability_index", float("nan"))
            foot += (
                f"<p>Stability class index {fitted:.1f} ({class_letter(fitted)}; A = 0 .. F = 5), from "
                f"{wind:.1f} the wind's direction spread gave; a follow-up plans with it.</p>"
            )
        if (info.get("region_widening") or 1.0) > 1.0:  # flights: correlation in the plume alone
            foot += (
                f"<p>90 % regions and rate intervals widened {info['region_widening']:.2g}x: the readings in the "
                "plume are correlated where the whole flight's show none.</p>"
            )
        near = [s for s in view.sources if getattr(s, "near_crossing_widening", 1.0) > 1.0]
        for s in near:  # flights: a plume seen only close to its source
            far = max(s.crossing_distances_m or [0.0])
            foot += (
                f"<p>{html.escape(s.id)}'s 90 % region and rate interval widened "
                f"{s.near_crossing_widening:.2g}x: its plume crossings all lie within {far:.0f} m of it, "
                "where a plume is a meandering train of puffs more than the average plume the model describes.</p>"
            )
        if info.get("beam_width_factor") is not None:  # a flight and beams in one fit
            foot += (
                f"<p>Beams (fitted with the flight, at {info.get('beam_weight', float('nan')):.2g} of their own "
                f"weight): plume width {info['beam_width_factor']:.2g} of the measured turbulence's.</p>"
            )
    foot += "".join(f'<p class="warning"><strong>Warning:</strong> {html.escape(w)}</p>' for w in _warnings(info))
    hollow_note = (
        " (hollow: a low probability of existing, confirm)" if any(map(_low_probability, view.sources)) else ""
    )
    truth_note = "; truth as green stars" if view.truth else ""
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:20px;color:#222}} table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:4px 8px}} svg{{border:1px solid #888;background:#f8f8f4}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>{legend}Estimated sources in blue with their 90 % regions{hollow_note}{truth_note}.
Local frame about {frame.lat0:.6f}, {frame.lon0:.6f} (east right, north up). Hover for coordinates.</p>
<svg id="map" xmlns="http://www.w3.org/2000/svg" width="{W:.0f}" height="{H:.0f}" viewBox="0 0 {W:.0f} {H:.0f}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="5" markerHeight="5"
orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>
{"".join(parts)}
</svg>
<h2>Sources</h2>
<table id="sources"><tr><th>id</th><th>lat, lon</th><th>rate (g/s)</th><th>90 % interval (g/s)</th>
<th>90 % radius (m)</th><th>probability</th><th>class (probability)</th></tr>{rows}</table>
{foot}
{_embedded(figures)}
</body></html>
"""
    path = Path(path)
    path.write_text(doc, encoding="utf-8")
    return path


def _embedded(figures) -> str:
    import base64

    out = []
    for heading, png in figures:
        data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
        out.append(
            f'<h2>{html.escape(heading)}</h2><img alt="{html.escape(heading)}" src="data:image/png;base64,{data}">'
        )
    return "\n".join(out)


def _kind_cell(s) -> str:
    a = getattr(s, "attribution", None)
    if not a:
        return "-"
    c = a["source_class"]
    return f"{html.escape(c)} ({a['class_probabilities'][c]:.2f})"


def write_attribution_png(path, sources, title: str = "plumescout") -> Path:
    """The evidence behind each attribution: per source, every species' integrated enhancement
    (with its 1-sigma bar) relative to the first species, beside what the two most probable
    classes predict at their best amplitude."""
    srcs = [s for s in sources if getattr(s, "attribution_detail", None) is not None]
    n = max(len(srcs), 1)
    fig, axes = plt.subplots(n, 1, figsize=(8, 2.8 * n), constrained_layout=True, squeeze=False)
    for ax, s in zip(axes[:, 0], srcs, strict=False):
        a = s.attribution_detail
        sp = list(a.observed)
        ref = abs(a.observed[sp[0]][0]) or 1.0
        x = np.arange(len(sp))
        obs = np.array([a.observed[k][0] for k in sp]) / ref
        err = np.array([a.observed[k][1] for k in sp]) / ref
        top = sorted(a.probabilities, key=a.probabilities.get, reverse=True)[:2]
        w = 0.8 / (1 + len(top))
        ax.bar(x - 0.4 + w / 2, obs, w, yerr=err, color="0.3", label="observed", capsize=3)
        for i, c in enumerate(top, start=1):
            pred = np.array([a.predicted[c].get(k, 0.0) for k in sp]) / ref
            ax.bar(x - 0.4 + w / 2 + i * w, pred, w, color=f"C{i - 1}", label=f"{c} (p={a.probabilities[c]:.2f})")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xticks(x, sp)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylabel(f"integrated / {sp[0]}")
        ax.set_title(f"{s.id}: {a.source_class} (p={a.probabilities[a.source_class]:.2f})", fontsize=10)
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{title}: species evidence per source", fontsize=11)
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_follow_up_png(path, plans, wind: tuple[float, float], title: str = "follow-up") -> Path:
    """One panel per follow-up (:class:`~plumescout.planning.followup.FollowUp`): the source's
    estimate and 90 % region, the lines to fly and the transit (local metres), the wind."""
    from types import SimpleNamespace

    n = len(plans)
    fig, axes = plt.subplots(1, n, figsize=(5.8 * n, 5.4), squeeze=False)
    for ax, f in zip(axes[0], plans, strict=True):
        for s in f.mission.sorties:
            ax.plot(*s.waypoints_m.T, color="0.6", lw=0.8, zorder=1)
        ax.plot(
            *f.mission.path_m.T,
            color="tab:blue",
            lw=1.4,
            label=f"lines ({f.mission.n_lines}, {f.spacing_m:.0f} m apart)",
        )
        for k, t in enumerate(f.targets):
            ell = getattr(t, "ellipse_m", None)  # flights: the lines are laid over the ellipse
            ax.add_patch(
                Circle((t.x_m, t.y_m), t.radius_m, fill=False, ls=":" if ell else "--", color="tab:red",
                       lw=0.8 if ell else 1.5, label=("90 % circle" if ell else "90 % region") if k == 0 else None)
            )  # fmt: skip
            if ell is not None:
                a, b, az = ell
                ax.add_patch(
                    Ellipse((t.x_m, t.y_m), 2 * a, 2 * b, angle=90.0 - az, fill=False, ls="--", color="tab:red",
                            label="90 % ellipse" if k == 0 else None)
                )  # fmt: skip
            ax.plot(t.x_m, t.y_m, "x", color="tab:red", ms=10, mew=2, label="estimate" if k == 0 else None)
            ax.annotate(t.id, (t.x_m, t.y_m), textcoords="offset points", xytext=(6, 6), color="tab:red")
        ax.plot(*f.mission.takeoff_m, "^", color="k", ms=8, label="take-off")
        ax.set_aspect("equal")
        ax.autoscale_view()
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        pad = 0.25 * max(x1 - x0, y1 - y0)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
        _wind_arrow(ax, SimpleNamespace(wind=wind))
        minutes = sum(s.time_s for s in f.mission.sorties) / 60.0
        alt = f.mission.settings.altitude_m
        t = f.targets[0]
        (r0, _), (a0, a1) = f.reach_m[t.id], f.along_m[t.id]
        ax.set_title(
            f"{f.name}: {minutes:.1f} min of flight at {alt:g} m\n({t.id}'s plume reaches {alt:g} m {r0:.0f} m "
            f"downwind: lines {a0:.0f} to {a1:.0f} m downwind of it)",
            fontsize=9,
        )
        ax.set_xlabel("east (m)")
        ax.set_ylabel("north (m)")
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
