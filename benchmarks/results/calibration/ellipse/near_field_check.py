"""The 90 % ellipse against the circle on combined_survey.py's raw flight fits (--modes flight):
the ellipse at factor 0.74 and the circle at 0.79 (the committed factors), both floored at 3 m.

    python near_field_check.py near_dense_0-29.json near_sparse_0-29.json
"""

import json
import sys

import numpy as np

from plumescout.evaluation import ellipse_holds

k, floor = 0.74, 3.0
for path in sys.argv[1:]:
    d = json.load(open(path))
    circ, ell, area, n = [], [], [], 0
    for r in d["releases"]:
        f = r["flight"]
        if not f.get("found") or "ellipse_raw_axes_m" not in f:
            continue
        (a, b) = f["ellipse_raw_axes_m"]
        ea, eb = np.hypot(k * a, floor), np.hypot(k * b, floor)
        ell.append(ellipse_holds((a, b), f["ellipse_truth_offset"], k, floor))
        rc = np.hypot(0.79 * f["radius_m"], floor)  # the committed circle: raw radius x 0.79, floored
        circ.append(f["error_m"] <= rc)
        area.append(ea * eb / rc**2)
    print(
        path,
        len(ell),
        "circle",
        round(np.mean(circ), 3),
        "ellipse",
        round(np.mean(ell), 3),
        "area",
        round(float(np.median(area)), 3),
    )
