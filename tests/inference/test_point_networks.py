"""Point sensors in the beam data kind (beams of zero length): how their residuals are grouped.

A beam read every minute is a time series (its residuals correlated in time); a network of
samplers read once is not, and its residuals are correlated in space (neighbours see the same
plume). The grouping decides the noise guess and the tempering, so it must follow the data."""

import numpy as np

from plumescout.inference.data import MIN_SERIES, BeamData, read_beam_dataset, spatial_order


def _network(xy, times, per_sensor=1):
    """``per_sensor`` readings of each sensor at each of ``times`` (s); concentrations arbitrary."""
    n = len(xy)
    xyz = np.column_stack([xy, np.full(n, 1.5)])
    beam = np.tile(np.arange(n), len(times) * per_sensor)
    t = np.repeat(np.asarray(times, float), n * per_sensor)
    rng = np.random.default_rng(1)
    return BeamData.from_readings(
        xyz,
        xyz,
        beam,
        t,
        2.0 + rng.random(beam.size),
        np.full(beam.size, 3.0),
        np.full(beam.size, 270.0),
        points_per_beam=1,
    )


def _arcs(radii=(50.0, 100.0, 200.0), step_deg=2.0, sector=(30.0, 150.0)):
    az = np.deg2rad(np.arange(sector[0], sector[1] + 1e-9, step_deg))
    return np.vstack([np.column_stack([r * np.sin(az), r * np.cos(az)]) for r in radii]), az.size


def test_spatial_order_walks_a_shuffled_arc_end_to_end():
    """Points on one arc, shuffled: the walk visits them in arc order, from one end."""
    xy, n = _arcs(radii=(80.0,))
    perm = np.random.default_rng(0).permutation(n)
    walk = perm[spatial_order(xy[perm])]
    assert sorted(walk) == list(range(n))
    assert list(walk) in (list(range(n)), list(range(n))[::-1])


def test_spatial_order_steps_are_neighbour_steps():
    """Three arcs (the Prairie Grass layout): every step of the walk but the few between arcs is
    a step to an adjacent sampler of the same arc (2 degrees of arc), so consecutive residuals
    are those of neighbours."""
    xy, n = _arcs()
    walk = spatial_order(xy)
    assert sorted(walk) == list(range(xy.shape[0]))
    radius = np.hypot(*xy[walk].T)
    same_arc = np.isclose(radius[1:], radius[:-1])
    assert np.count_nonzero(~same_arc) == 2  # one jump to each next arc
    step = np.hypot(*np.diff(xy[walk], axis=0).T)[same_arc]
    assert np.allclose(step, 2 * radius[1:][same_arc] * np.sin(np.deg2rad(1.0)))


def test_spatial_order_of_duplicate_and_separate_points():
    """Coincident points stay in the walk (an edge of zero length still joins them); a point far
    from every other is a piece of its own, walked too."""
    xy = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1e6, 1e6]])
    assert sorted(spatial_order(xy)) == [0, 1, 2, 3]
    assert list(spatial_order(xy[:2])) == [0, 1]


def test_a_network_read_once_is_grouped_in_space():
    xy, _ = _arcs()
    d = _network(xy, [0.0])
    assert not d.time_series
    (g,) = d.residual_groups()
    assert list(g) == list(spatial_order(xy))
    assert d.background_basis().shape == (len(d), 1)


def test_a_network_read_a_few_times_is_grouped_per_time_in_space():
    xy, _ = _arcs()
    d = _network(xy, [0.0, 600.0, 1200.0])
    groups = d.residual_groups()
    assert len(groups) == 3 and not d.time_series
    for g, t in zip(groups, (0.0, 600.0, 1200.0), strict=True):
        assert np.all(d.reading_time_s[g] == t)
        assert list(d.reading_beam[g]) == list(spatial_order(xy))


def test_sensors_read_every_minute_are_time_series():
    """Continuous monitors (MIN_SERIES readings or more each): per sensor, in time order, as the
    beams of Chilbolton are."""
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    d = _network(xy, 60.0 * np.arange(MIN_SERIES))
    assert d.time_series
    groups = d.residual_groups()
    assert [set(d.reading_beam[g]) for g in groups] == [{0}, {1}, {2}]
    assert all(np.all(np.diff(d.reading_time_s[g]) > 0) for g in groups)


def test_chilbolton_beams_are_time_series(chilbolton_dir):
    d = read_beam_dataset(chilbolton_dir)
    assert d.time_series and len(d.residual_groups()) == 7
    assert d.points_per_reading == 30


def test_a_point_network_file_is_read_with_one_point_per_sensor(tmp_path):
    """beams.csv with start = end on every row: point sensors; one point each is exact (30 would
    be the same point 30 times)."""
    (tmp_path / "beams.csv").write_text(
        "beam,x0_m,y0_m,z0_m,x1_m,y1_m,z1_m\n1,0,50,1.5,0,50,1.5\n2,5,50,1.5,5,50,1.5\n"
    )
    (tmp_path / "measurements.csv").write_text("minute,beam,ch4_path_avg_ppm\n0,1,2.5\n0,2,2.1\n")
    (tmp_path / "wind.csv").write_text("minute,wind_speed_m_s,wind_from_deg\n0,3.0,180\n")
    d = read_beam_dataset(tmp_path)
    assert d.points_per_reading == 1 and len(d) == 2 and not d.time_series
    assert np.allclose(d.spec.x, [0.0, 5.0]) and np.allclose(d.spec.y, [50.0, 50.0])
