"""Pictures of the Prairie Grass comparison (``peer_pyelq.py --prairie-grass``).

    python benchmarks/figure_prairie_grass.py [--json benchmarks/results/peer_pyelq_prairie_grass.json]
                                              [--run 5] [--out benchmarks/results/prairie_grass.png]

Left: each run's location error, plumescout against pyELQ, on the runs of the JSON the
benchmark wrote (a run an estimator missed, no source within 100 m, sits on the top or right
edge). Right: plumescout's estimate on one run, fitted again as the benchmark fits it: the
samplers coloured by their 10-minute SO2 mean, the posterior density of the source position,
the 90 % region and the release.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors  # noqa: E402
from matplotlib.patches import Circle  # noqa: E402

from plumescout.geo import bearing_to_unit  # noqa: E402
from plumescout.report.maps import posterior_density  # noqa: E402
from plumescout.validation.prairie_grass import MATCH_M, estimate_run, load_prairie_grass, run_samplers  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "prairie-grass-1956"


def error_panel(ax, recs: list[dict]) -> None:
    miss = 1.5 * MATCH_M  # where a miss is drawn
    e_o = np.array([r["ours"]["error_m"] if r["ours"]["error_m"] is not None else miss for r in recs])
    e_p = np.array([r["peer"]["error_m"] if r["peer"]["error_m"] is not None else miss for r in recs])
    lo = max(0.1, 0.7 * min(e_o.min(), e_p.min()))
    ax.plot([lo, miss], [lo, miss], "k--", lw=1, label="equal error")
    closer = e_o < e_p
    ax.scatter(e_p[closer], e_o[closer], s=28, color="tab:blue", label=f"plumescout closer ({closer.sum()})", zorder=3)
    ax.scatter(
        e_p[~closer], e_o[~closer], s=28, color="tab:red", label=f"pyELQ closer or tied ({(~closer).sum()})", zorder=3
    )
    for r, x, y in zip(recs, e_p, e_o, strict=True):
        ax.annotate(str(r["run"]), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6, color="0.35")
    ax.axhline(MATCH_M, color="0.6", lw=0.8)
    ax.axvline(MATCH_M, color="0.6", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, miss * 1.2)
    ax.set_ylim(lo, miss * 1.2)
    ax.set_xlabel("pyELQ location error (m); beyond the grey line: no source within 100 m")
    ax.set_ylabel("plumescout location error (m)")
    ax.set_title(f"Prairie Grass, {len(recs)} real releases: error per run")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_aspect("equal")
    ax.grid(alpha=0.3, which="both")


def map_panel(ax, fig, run: int) -> None:
    loaded = load_prairie_grass(DATA)
    s = run_samplers(loaded, run)
    est = estimate_run(loaded, run)["estimator"]  # as the benchmark fits it
    half = 120.0  # the first two arcs and the release
    posterior_density(ax, est, (-half, -half, half, half), bins=96)
    c = s.conc_g_m3 * 1e3
    pos = c > 0
    sc = ax.scatter(
        s.xyz[pos, 0],
        s.xyz[pos, 1],
        c=c[pos],
        s=14,
        cmap="magma_r",
        norm=colors.LogNorm(vmin=max(c[pos].min(), 1e-2), vmax=c.max()),
        zorder=2,
    )
    ax.scatter(s.xyz[~pos, 0], s.xyz[~pos, 1], s=8, facecolor="none", edgecolor="0.5", zorder=2)
    fig.colorbar(sc, ax=ax, label="SO2, 10-minute mean (mg/m3)", shrink=0.75, pad=0.01)
    for i, src in enumerate(est.sources_):
        ax.add_patch(Circle((src.x_m, src.y_m), src.location_ci90_m, fill=False, ec="navy", lw=1.5, zorder=4))
        ax.plot(
            src.x_m,
            src.y_m,
            "o",
            color="navy",
            ms=6,
            zorder=5,
            label="plumescout: median, 90 % region" if i == 0 else None,
        )
        ax.annotate(
            f"{src.rate_g_s:.0f} g/s [{src.rate_g_s_ci90[0]:.0f}, {src.rate_g_s_ci90[1]:.0f}], "
            f"{np.hypot(src.x_m, src.y_m):.1f} m off",
            (src.x_m, src.y_m),
            xytext=(10, -14),
            textcoords="offset points",
            fontsize=8,
            color="navy",
            zorder=6,
        )
    ax.plot(0, 0, "*", color="limegreen", mec="k", ms=15, zorder=6, label=f"release ({s.rate_g_s:.1f} g/s)")
    fe, fn = bearing_to_unit(s.met["wdir"])
    ax.annotate(
        "",
        xy=(-0.75 * half - 25 * fe, 0.6 * half - 25 * fn),
        xytext=(-0.75 * half + 25 * fe, 0.6 * half + 25 * fn),
        arrowprops={"arrowstyle": "-|>", "lw": 2, "color": "k"},
    )
    ax.text(-0.75 * half, 0.25 * half, f"wind {s.met['u']:.1f} m/s\nfrom {s.met['wdir']:.0f}°", ha="center", fontsize=8)
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_aspect("equal")
    ax.set_xlabel("east of the release (m)")
    ax.set_ylabel("north (m)")
    ax.set_title(f"run {run}: samplers on the 50 and 100 m arcs (of 5, to 800 m); shading = posterior density")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=str(RESULTS / "peer_pyelq_prairie_grass.json"))
    ap.add_argument("--run", type=int, default=5, help="the run mapped (default: the first with meteorology)")
    ap.add_argument("--out", default=str(RESULTS / "prairie_grass.png"))
    args = ap.parse_args(argv)
    recs = json.loads(Path(args.json).read_text())["prairie_grass"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(15, 7), constrained_layout=True)
    error_panel(a1, recs)
    map_panel(a2, fig, args.run)
    fig.savefig(args.out, dpi=100)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
