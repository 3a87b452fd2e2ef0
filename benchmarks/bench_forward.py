"""Forward model speed: the compiled kernel vs the straightforward NumPy implementation.

    python benchmarks/bench_forward.py [--samples 6000] [--candidates 400] [--repeats 5]

Both implementations of plumescout.inference.forward compute the same (samples x candidates)
coupling matrix (checked equal to 1e-9 here); the ratio of their median wall times, measured in
the same run on the same machine, is the figure of merit (issue 3: >= 4x). Writes
benchmarks/results/forward.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402

from plumescout.inference.forward import ForwardSpec, coupling_numba, coupling_numpy  # noqa: E402


def spec(n: int, lagrangian: bool, rng) -> ForwardSpec:
    t = np.arange(n) * 0.2  # 5 Hz
    x = 400 * np.sin(t / 60.0) + rng.normal(0, 1, n)
    y = np.linspace(-300, 300, n)
    kw = dict(x=x, y=y, z=np.full(n, 8.0), t=t, speed=3 + 0.5 * np.sin(t / 30), from_deg=250 + 10 * np.sin(t / 90))
    if lagrangian:
        return ForwardSpec.with_lagrangian_wind(t, kw["speed"], kw["from_deg"], **kw)
    return ForwardSpec(**kw)


def timeit(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=6000)
    ap.add_argument("--candidates", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "forward.md"))
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    src = np.column_stack(
        [
            rng.uniform(-500, 500, args.candidates),
            rng.uniform(-400, 400, args.candidates),
            rng.uniform(0, 3, args.candidates),
        ]
    )
    rows = []
    for lagr in (False, True):
        sp = spec(args.samples, lagr, rng)
        a = coupling_numpy(sp, src, 2.5, 3.0, 1.1)
        b = coupling_numba(sp, src, 2.5, 3.0, 1.1)  # also compiles (cached on disk)
        err = float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
        assert err < 1e-9, err
        t_np = timeit(lambda sp=sp: coupling_numpy(sp, src, 2.5, 3.0, 1.1), args.repeats)
        t_nb = timeit(lambda sp=sp: coupling_numba(sp, src, 2.5, 3.0, 1.1), args.repeats)
        rows.append((("Lagrangian wind" if lagr else "per-sample wind"), t_np, t_nb, t_np / t_nb, err))
    lines = [
        "# Forward model: compiled kernel vs NumPy",
        "",
        f"`python benchmarks/bench_forward.py --samples {args.samples} --candidates {args.candidates}` on "
        f"{machine()}. Median of {args.repeats} runs; both in the same process, same inputs.",
        "",
        "| wind | NumPy (s) | numba (s) | speed-up | max rel. difference |",
        "|---|---|---|---|---|",
    ]
    for name, t_np, t_nb, ratio, err in rows:
        lines.append(f"| {name} | {t_np:.3f} | {t_nb:.3f} | {ratio:.1f}x | {err:.1e} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
