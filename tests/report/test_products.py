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
