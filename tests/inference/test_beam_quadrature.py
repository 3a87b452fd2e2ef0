"""The beam line integral is a midpoint rule along the beam: it converges at second order, and
30 points per beam (the default) are within 1 % of a 480-point reference on the Chilbolton beams."""

import numpy as np

from plumescout.inference.data import read_beam_dataset


def test_midpoint_rule_converges_at_second_order(chilbolton_dir):
    DATA = chilbolton_dir
    src = np.array([[68.9, 92.75, 0.3], [40.0, 60.0, 0.5], [75.0, 85.0, 1.0]])
    ref = read_beam_dataset(DATA, points_per_beam=480).coupling(src)
    err = {}
    for n in (15, 30, 60):
        c = read_beam_dataset(DATA, points_per_beam=n).coupling(src)
        err[n] = np.abs(c - ref).sum(axis=0) / ref.sum(axis=0)
    # halving the spacing divides the error by about four (midpoint rule, smooth integrand)
    assert np.all(err[30] < err[15] / 3) and np.all(err[60] < err[30] / 3)
    assert np.all(err[30] < 0.01)
    assert read_beam_dataset(DATA).points_per_reading == 30
