"""Report products: the GeoJSON contract (FORMATS.md section 2), KML, HTML map, PNG."""

import hashlib
import json

import numpy as np
import pytest
from fastkml import kml as fkml

from plumescout.flightlog import write_flight_csv
from plumescout.inference import EstimatorConfig
from plumescout.pipeline import analyze

# FORMATS.md section 2: required properties of every feature, and what they must be.
REQUIRED = {"id", "species", "emission_rate_g_s", "emission_rate_g_s_ci90", "location_ci90_m", "probability"}


@pytest.fixture(scope="module")
def analysed(single_flight, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    csv = write_flight_csv(out / "flight.csv", single_flight.observations)
    res = analyze(
        csv,
        out / "products",
        EstimatorConfig(iterations=1500, burn_in=600),
        truth=single_flight.truth,
        origin=(40.0, -105.0),
    )
    return csv, res


def test_geojson_contract(analysed):
    csv, res = analysed
    doc = json.loads(res.outputs["geojson"].read_text())
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == len(res.sources) >= 1
    ids = set()
    for f in doc["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        lon, lat = f["geometry"]["coordinates"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90
        assert lat == pytest.approx(40.0, abs=0.01) and lon == pytest.approx(-105.0, abs=0.01)  # [lon, lat] order
        p = f["properties"]
        assert REQUIRED <= set(p)
        lo, hi = p["emission_rate_g_s_ci90"]
        assert 0 <= lo <= p["emission_rate_g_s"] <= hi
        assert p["location_ci90_m"] > 0
        assert 0 <= p["probability"] <= 1
        assert p["species"] == "ch4"
        ids.add(p["id"])
    assert len(ids) == len(doc["features"])
    prov = doc["properties"]
    assert prov["inputs"][0]["file"] == "flight.csv"
    assert prov["inputs"][0]["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert prov["software"]["name"] == "plumescout" and prov["software"]["version"]
    assert prov["model"] and prov["settings"]["iterations"] == 1500
    assert prov["wall_time_s"] > 0


def test_kml_parses_with_fastkml(analysed):
    _, res = analysed
    k = fkml.KML.parse(str(res.outputs["kml"]), strict=True, validate=True)  # OGC KML 2.2 schema
    doc = next(iter(k.features))
    names = [f.name for f in doc.features]
    assert "flight track" in names
    for s in res.sources:
        assert s.id in names and f"{s.id} 90 % region" in names


def test_html_map_is_self_contained(analysed):
    _, res = analysed
    html = res.outputs["html"].read_text()
    assert "<svg" in html and 'class="source"' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    for s in res.sources:
        assert f"<td>{s.id}</td>" in html


def test_png_written(analysed):
    _, res = analysed
    data = res.outputs["png"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000


def test_geojson_rejects_nan(tmp_path):
    from plumescout.inference.estimate import SourceEstimate
    from plumescout.report import write_geojson

    s = SourceEstimate("S1", "ch4", 0, 0, 0, 0, 1, float("nan"), (0, 1), 5, 0.5, np.empty((0, 2)))
    with pytest.raises(ValueError):
        write_geojson(tmp_path / "x.geojson", [s], {})


def test_detection_reported_for_every_species(tmp_path):
    # good.csv carries ch4 (ppm) and c2h6 (ppb): both get a detection summary in the provenance
    from pathlib import Path

    good = Path(__file__).parent.parent / "data" / "flightlogs" / "good.csv"
    analyze(good, tmp_path, EstimatorConfig(iterations=200, burn_in=100, chains=1))
    by_species = json.loads((tmp_path / "sources.geojson").read_text())["properties"]["detection_by_species"]
    assert set(by_species) == {"ch4", "c2h6"}
    for summary in by_species.values():
        assert summary["false_alarms_per_hour"] == 0.1 and summary["noise_ppm"] >= 0


@pytest.fixture(scope="module")
def point_network(tmp_path_factory):
    """A small network of point sensors read once (beams of zero length) on two arcs downwind
    of a 1 g/s ground source, their readings from the forward model; one open-path beam besides."""
    from plumescout.inference.data import BeamData
    from plumescout.units import g_m3_to_ppm

    d = tmp_path_factory.mktemp("network")
    az = np.deg2rad(np.arange(-30.0, 31.0, 5.0))
    xy = np.vstack([np.column_stack([r * np.sin(az), r * np.cos(az)]) for r in (60.0, 120.0)])
    start = np.column_stack([xy, np.full(len(xy), 1.5)])
    end = start.copy()
    start = np.vstack([start, [[-40.0, 90.0, 1.5]]])
    end = np.vstack([end, [[40.0, 90.0, 1.5]]])
    n = len(start)
    wind = dict(tan_sigma_y=np.full(n, 0.15), tan_sigma_z=np.full(n, 0.08))
    one = BeamData.from_readings(
        start, end, np.arange(n), np.zeros(n), np.zeros(n), np.full(n, 3.0), np.full(n, 180.0), **wind
    )
    ppm = 2.0 + g_m3_to_ppm(one.coupling(np.array([[0.0, 0.0, 0.5]]))[:, 0] * 1.0, "ch4")
    rows = "\n".join(
        f"{i + 1},{a[0]},{a[1]},{a[2]},{b[0]},{b[1]},{b[2]}" for i, (a, b) in enumerate(zip(start, end, strict=True))
    )
    (d / "beams.csv").write_text("beam,x0_m,y0_m,z0_m,x1_m,y1_m,z1_m\n" + rows + "\n")
    meas = "\n".join(f"0,{i + 1},{v:.9g}" for i, v in enumerate(ppm))
    (d / "measurements.csv").write_text("minute,beam,ch4_path_avg_ppm\n" + meas + "\n")
    (d / "wind.csv").write_text(
        "minute,wind_speed_m_s,wind_from_deg,tan_sigma_theta_h,tan_sigma_theta_v\n0,3,180,0.15,0.08\n"
    )
    res = analyze(
        d, d / "products", EstimatorConfig(iterations=1500, burn_in=600, beam_margin_m=100.0), origin=(40.0, -105.0)
    )
    return res, int(np.all(start == end, axis=1).sum())


def test_point_sensors_are_points_in_every_product(point_network):
    """Beams of zero length are drawn as points (a KML LineString of one repeated point is no
    line), the open-path beam as a line; the GeoJSON says where the search area was."""
    res, n_points = point_network
    k = fkml.KML.parse(str(res.outputs["kml"]), strict=True, validate=True)
    doc = next(iter(k.features))
    sensors = [f for f in doc.features if f.name.startswith("sensor ")]
    beams = [f for f in doc.features if f.name.startswith("beam ")]
    assert len(sensors) == n_points and len(beams) == 1
    assert all(type(f.kml_geometry).__name__ == "Point" for f in sensors)
    assert type(beams[0].kml_geometry).__name__ == "LineString"
    html = res.outputs["html"].read_text()
    assert html.count('class="sensor"') == n_points and html.count('class="beam"') == 1
    prov = json.loads(res.outputs["geojson"].read_text())["properties"]
    assert prov["search_area"]["margin_m"] == 100.0 and prov["settings"]["beam_margin_m"] == 100.0
    assert res.outputs["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_map_names_of_neighbouring_sources_do_not_cover_each_other():
    """Three sources a few metres apart on a 1 km map: at the same offset from their dots their
    names would lie on one another (the control); placed by ``name_sources`` no two overlap and
    each stays beside its own dot (within 60 pixels)."""
    from types import SimpleNamespace

    import matplotlib.pyplot as plt

    from plumescout.report.maps import name_sources

    srcs = [SimpleNamespace(id=f"S{i + 1}", x_m=x, y_m=y) for i, (x, y) in enumerate([(0, 0), (4, 3), (-3, 5)])]
    fig, (ax, control) = plt.subplots(1, 2, figsize=(12, 6))
    for a in (ax, control):
        a.set_xlim(-500, 500)
        a.set_ylim(-500, 500)
        a.set_aspect("equal")
    names = name_sources(ax, srcs)
    same = [control.text(s.x_m + 12, s.y_m + 12, s.id, fontsize=9, fontweight="bold") for s in srcs]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()

    def overlaps(texts):
        boxes = [t.get_window_extent(r) for t in texts]
        return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]

    assert overlaps(same)  # the control: the problem is there to solve
    assert [t.get_text() for t in names] == ["S1", "S2", "S3"] and overlaps(names) == []
    for t, s in zip(names, srcs, strict=True):
        box = t.get_window_extent(r)
        dot = ax.transData.transform((s.x_m, s.y_m))
        assert np.hypot(box.x0 + box.width / 2 - dot[0], box.y0 + box.height / 2 - dot[1]) < 60.0
    plt.close(fig)
