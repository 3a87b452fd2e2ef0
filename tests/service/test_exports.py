"""A real analysis through the job system, and the formats partners use: GeoJSON (FORMATS.md
section 2), KML (validated by fastkml), Cursor-on-Target decoded by takproto and sent with pytak to
a listener on loopback."""

import asyncio
import json
import math
import threading
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from plumescout.report.geojson import sha256_file
from plumescout.service import cot
from plumescout.service.jobs import MAX_TRACK_POINTS

from .conftest import wait_run


def test_the_job_runs_the_estimator_with_progress_log_and_reports(analysed, single_flight):
    w, _mission, flight_id, run = analysed
    assert run["progress"] == 1.0 and run["error"] is None
    assert any("estimated" in line for line in run["log"])
    assert len(run["reports"]) >= 1
    # the same source as the simulator put there (0.5 g/s at x=-60, y=30 in the local frame)
    truth = single_flight.truth["sources"][0]
    frame = single_flight.observations.frame
    best = min(
        (w.get("analyst", f"/api/reports/{i}").json() for i in run["reports"]),
        key=lambda r: -r["probability"],
    )
    x, y = frame.to_local(best["lat"], best["lon"])
    assert math.hypot(x - truth["x_m"], y - truth["y_m"]) <= best["location_ci90_m"] + 20.0
    assert best["flags"] == []  # inside the search area, 0.5 g/s far below the rate cap
    assert run["provenance"]["inputs"][0]["file"] == "flight.csv"


def test_track_for_the_map_is_decimated_and_keeps_the_plume(analysed):
    w, _m, _f, run = analysed
    t = w.get("analyst", f"/api/runs/{run['id']}/track").json()
    assert 2 <= len(t["lat"]) == len(t["lon"]) == len(t["enhancement_ppm"]) <= MAX_TRACK_POINTS
    assert max(v for v in t["enhancement_ppm"] if v is not None) > t["threshold_ppm"]


def test_geojson_export_meets_the_format_contract(analysed, flight_csv):
    w, _m, _f, run = analysed
    rid = run["reports"][0]
    doc = w.get("analyst", f"/api/reports/{rid}/geojson").json()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 1
    p = doc["features"][0]["properties"]
    for key in ("id", "species", "emission_rate_g_s", "emission_rate_g_s_ci90", "location_ci90_m", "probability"):
        assert key in p, key
    lo, hi = p["emission_rate_g_s_ci90"]
    assert lo <= p["emission_rate_g_s"] <= hi and 0.0 <= p["probability"] <= 1.0
    assert doc["properties"]["inputs"][0]["sha256"] == sha256_file(flight_csv)
    assert p["status"] in ("candidate", "confirmed", "dismissed") and p["report_uid"]


def test_kml_export_validates_with_fastkml(analysed, tmp_path):
    from fastkml import kml as fkml

    w, _m, _f, run = analysed
    r = w.get("analyst", f"/api/reports/{run['reports'][0]}/kml")
    assert r.status_code == 200
    path = tmp_path / "r.kml"
    path.write_bytes(r.content)
    k = fkml.KML.parse(str(path), strict=True, validate=True)
    assert k is not None


def test_ce_is_one_sigma_of_the_90_percent_region():
    # circular normal: P(r <= R) = 1 - exp(-R^2 / (2 sigma^2)); R90 = sigma sqrt(2 ln 10)
    sigma = cot.ce_from_r90(100.0)
    assert 1.0 - math.exp(-(100.0**2) / (2.0 * sigma**2)) == pytest.approx(0.9, abs=1e-12)
    # the same from scipy's Rayleigh distribution (the radius of a circular normal)
    from scipy.stats import rayleigh

    assert sigma == pytest.approx(100.0 / rayleigh.ppf(0.9), rel=1e-12)


@pytest.mark.parametrize("flags", [[], ["region_at_search_edge", "rate_at_prior_cap", "single_crossing"]])
def test_a_sources_flags_reach_the_tak_remarks(flags):
    # what a TAK user must know before trusting the marker travels in its remarks
    from types import SimpleNamespace

    report = SimpleNamespace(
        uid="r1", status="candidate", lat=51.0, lon=-1.0, location_ci90_m=20.0, title="S1", species="ch4",
        rate_g_s=1.0, rate_g_s_lo=0.5, rate_g_s_hi=2.0, probability=0.9, source_class=None,
        feature={"properties": {"flags": flags}},
    )  # fmt: skip
    remarks = ET.fromstring(cot.report_event(report)).find("detail/remarks").text
    said = [part.removeprefix(" warning: ") for part in remarks.split(";") if part.startswith(" warning: ")]
    assert said == [f.replace("_", " ") for f in flags]


def test_a_flights_ellipse_reaches_the_tak_remarks():
    # CoT's point carries a circle (ce); the ellipse a crew would search goes in the remarks
    from types import SimpleNamespace

    ellipse = {"semi_major_m": 38.0, "semi_minor_m": 9.6, "major_axis_azimuth_deg": 68.2}
    report = SimpleNamespace(
        uid="r1", status="candidate", lat=51.0, lon=-1.0, location_ci90_m=33.0, title="S1", species="ch4",
        rate_g_s=1.0, rate_g_s_lo=0.5, rate_g_s_hi=2.0, probability=0.9, source_class=None,
        feature={"properties": {"flags": [], "location_ci90_ellipse": ellipse}},
    )  # fmt: skip
    remarks = ET.fromstring(cot.report_event(report)).find("detail/remarks").text
    assert "90 % radius 33.0 m (ellipse semi-axes 38 x 10 m, long axis 68 deg from north)" in remarks
    report.feature = {"properties": {"flags": []}}  # beams: the circle alone
    assert "ellipse" not in ET.fromstring(cot.report_event(report)).find("detail/remarks").text


def test_a_near_crossing_widening_reaches_the_tak_remarks():
    # why a region is wide travels with the marker (GeoJSON's near_crossing_widening); 1: nothing said
    from types import SimpleNamespace

    report = SimpleNamespace(
        uid="r1", status="candidate", lat=51.0, lon=-1.0, location_ci90_m=33.0, title="S1", species="ch4",
        rate_g_s=1.0, rate_g_s_lo=0.5, rate_g_s_hi=2.0, probability=0.9, source_class=None,
        feature={"properties": {"flags": [], "near_crossing_widening": 2.4}},
    )  # fmt: skip
    remarks = ET.fromstring(cot.report_event(report)).find("detail/remarks").text
    assert "90 % radius 33.0 m; region and rate interval widened 2.4x: its plume was seen only near it" in remarks
    report.feature["properties"]["near_crossing_widening"] = 1.0
    assert "widened" not in ET.fromstring(cot.report_event(report)).find("detail/remarks").text


def _report_row(w, rid):
    from plumescout.service.db import Report, make_engine, sessions

    engine = make_engine(w.settings.url)
    with sessions(engine)() as s:
        rep = s.get(Report, rid)
    engine.dispose()
    return rep


def test_cot_event_decodes_with_takproto_at_full_precision(analysed):
    import takproto

    w, _m, _f, run = analysed
    rid = run["reports"][0]
    assert w.get("partner_b", f"/api/reports/{rid}/cot").status_code == 404  # never released to it
    xml = w.get("analyst", f"/api/reports/{rid}/cot").content
    rep = _report_row(w, rid)
    ev = ET.fromstring(xml)
    assert ev.get("type") == "b-m-p-s-m"  # a spot-map marker; not b-r-f-h-c (casualty report)
    pt = ev.find("point")
    assert float(pt.get("lat")) == rep.lat and float(pt.get("lon")) == rep.lon  # every bit of the double
    msg = takproto.parse_proto(takproto.xml2proto(xml.decode()))
    e = msg.cotEvent
    assert e.type == "b-m-p-s-m" and e.uid == f"plumescout.{rep.uid}"
    assert e.lat == rep.lat and e.lon == rep.lon
    assert e.ce == pytest.approx(rep.location_ci90_m / math.sqrt(2 * math.log(10)), abs=1e-3)
    assert e.ce < rep.location_ci90_m
    assert e.staleTime > e.sendTime


class Listener:
    """A CoT listener on loopback (what a TAK server's TCP input does with the bytes)."""

    def __init__(self, ssl_ctx=None):
        self.received = bytearray()
        self.writers = []
        self.ssl_ctx = ssl_ctx
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    async def _handle(self, reader, writer):
        self.writers.append(writer)
        while data := await reader.read(65536):
            self.received += data
        writer.close()
        await writer.wait_closed()

    async def _shutdown(self):
        """Every connection and the server closed before the loop stops (a transport still
        closing when the loop is closed is reported, at some later garbage collection, as an
        unclosed socket in whichever test runs then)."""
        self.server.close()
        for w in self.writers:
            w.close()
        for w in self.writers:
            try:
                await w.wait_closed()
            except (ConnectionError, OSError):
                pass
        await self.server.wait_closed()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_ctx))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def wait_for(self, n: int, timeout_s: float = 10.0):
        import time

        t0 = time.monotonic()
        while len(self.received) < n and time.monotonic() - t0 < timeout_s:
            time.sleep(0.02)

    def close(self):
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def test_pytak_delivers_the_event_over_tcp_and_the_push_route_works(analysed):
    w, _m, _f, run = analysed
    rid = run["reports"][0]
    event = w.get("analyst", f"/api/reports/{rid}/cot").content
    lis = Listener()
    try:
        cot.push_events(f"tcp://127.0.0.1:{lis.port}", [event])
        lis.wait_for(len(event))
        assert bytes(lis.received) == event
        # through the service: configured TAK server, analyst pushes, partner may not
        settings = w.client.app.state.settings
        settings.tak_url = f"tcp://127.0.0.1:{lis.port}"
        try:
            assert w.post("partner_a", f"/api/reports/{rid}/cot/push").status_code == 403
            r = w.post("analyst", f"/api/reports/{rid}/cot/push")
            assert r.status_code == 200, r.text
            lis.wait_for(2 * len(event) - 200)
            second = ET.fromstring(bytes(lis.received[len(event) :]))
            assert second.get("uid") == ET.fromstring(event).get("uid")
        finally:
            settings.tak_url = None
    finally:
        lis.close()


def test_pytak_delivers_the_event_over_tls_with_a_client_certificate(tmp_path):
    import ssl

    pki = _pki(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki["ca"])
    ctx.load_cert_chain(pki["server_cert"], pki["server_key"])
    ctx.verify_mode = ssl.CERT_REQUIRED  # a TAK server wants the client's certificate
    lis = Listener(ctx)

    class R:
        uid, lat, lon, location_ci90_m = "tls-test", 51.1457813498731, -1.4409861234567, 12.5
        title, species, rate_g_s, rate_g_s_lo, rate_g_s_hi = "t", "ch4", 0.3, 0.2, 0.5
        probability, source_class, status = 0.95, None, "confirmed"

    event = cot.report_event(R())
    R.status = "dismissed"
    gone = ET.fromstring(cot.report_event(R()))
    assert gone.get("stale") == gone.get("time")  # stale on arrival: TAK drops the marker
    R.status = "confirmed"
    try:
        tls = {
            "PYTAK_TLS_CLIENT_CERT": pki["client_cert"],
            "PYTAK_TLS_CLIENT_KEY": pki["client_key"],
            "PYTAK_TLS_CLIENT_CAFILE": pki["ca"],
        }
        cot.push_events(f"tls://127.0.0.1:{lis.port}", [event], tls)
        lis.wait_for(len(event))
        assert bytes(lis.received) == event
        assert json.dumps(ET.fromstring(event).find("point").attrib).count("51.1457813498731") == 1
    finally:
        lis.close()


def _pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate (cryptography)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def cert(name, issuer_name, issuer_key, key, ca=False, san=None):
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    out = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("test ca", "test ca", ca_key, ca_key, ca=True)
    for who, san in (("server", [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), ("client", None)):
        k = ec.generate_private_key(ec.SECP256R1())
        c = cert(who, "test ca", ca_key, k, san=san)
        (d / f"{who}.pem").write_bytes(c.public_bytes(serialization.Encoding.PEM))
        (d / f"{who}.key").write_bytes(
            k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        out[f"{who}_cert"], out[f"{who}_key"] = str(d / f"{who}.pem"), str(d / f"{who}.key")
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out["ca"] = str(d / "ca.pem")
    return out


def test_a_run_left_queued_by_a_stopped_server_is_run_when_it_starts(tmp_path, flight_csv):
    from fastapi.testclient import TestClient

    from plumescout.service.app import create_app
    from plumescout.service.settings import ServiceSettings

    from .conftest import populate

    settings = ServiceSettings(db=str(tmp_path / "s.db"), jwt_secret="z" * 40)
    app = create_app(settings, start_jobs=False)  # a server whose workers never ran
    with TestClient(app) as c:
        w = populate(c, settings)
        m = w.post("analyst", "/api/missions", json={"name": "m"}).json()
        f = w.post("analyst", f"/api/missions/{m['id']}/flights", files={"file": ("f.csv", flight_csv.read_bytes())})
        run = w.post("analyst", f"/api/missions/{m['id']}/runs", json={"flight_id": f.json()["id"]}).json()
        assert w.get("analyst", f"/api/runs/{run['id']}").json()["state"] == "queued"
    app.state.engine.dispose()
    app2 = create_app(settings, start_jobs=True)
    with TestClient(app2) as c:
        done = wait_run(c, w.h("analyst"), run["id"])
        assert done["state"] == "done" and done["reports"]
    app2.state.engine.dispose()


def test_follow_up_flight_of_a_report_is_the_planners_and_lies_downwind(analysed, tmp_path):
    """``/follow-up`` gives the flight ``plumescout follow-up`` plans from the report's GeoJSON:
    the same waypoints, and its lines downwind of the source (the wind the run recorded)."""
    from fastkml import kml as fkml

    from plumescout.errors import ConfigError
    from plumescout.geo import bearing_to_unit
    from plumescout.planning.followup import (
        follow_up_area,
        lower_altitude,
        parse_analysis,
        plan_follow_up,
        planned_rate,
    )
    from plumescout.planning.mission import Aircraft, MissionSettings

    w, _m, _f, run = analysed
    rid = run["reports"][0]
    r = w.get("analyst", f"/api/reports/{rid}/follow-up")
    assert r.status_code == 200, r.text
    assert r.headers["x-sorties"] == "1" and "follow-up.plan" in r.headers["content-disposition"]
    items = r.json()["mission"]["items"]
    got = np.array([it["params"][4:6] for it in items if it["command"] == 16])
    # the planner on the report's own GeoJSON export, with the service's defaults (5 m/s, 30 min)
    an = parse_analysis(w.get("analyst", f"/api/reports/{rid}/geojson").json(), "export")
    assert an.stability_index is not None  # (the stability the run fitted)
    st = MissionSettings(
        wind_from_deg=an.wind_from_deg, wind_speed_m_s=an.wind_speed_m_s, altitude_m=an.altitude_m,
        stability=an.stability(),
        aircraft=[Aircraft(speed_m_s=5.0, endurance_s=1800.0, min_altitude_m=min(5.0, an.altitude_m))],
    )  # fmt: skip
    (f,) = plan_follow_up(an.targets, st)
    lat, lon = an.frame.to_wgs84(*f.mission.sorties[0].waypoints_m[1:-1].T)
    np.testing.assert_allclose(got, np.column_stack([lat, lon]), atol=1e-7)
    x, y = an.frame.to_local(got[:, 0], got[:, 1])
    fe, fn = bearing_to_unit(an.wind_from_deg)  # the unit vector toward where the wind comes from
    t = an.targets[0]
    assert np.mean(-(x - t.x_m) * fe - (y - t.y_m) * fn) > 0  # the lines lie downwind of it
    k = w.get("analyst", f"/api/reports/{rid}/follow-up", params={"format": "kml"})
    assert k.status_code == 200
    (tmp_path / "f.kml").write_bytes(k.content)
    assert fkml.KML.parse(str(tmp_path / "f.kml"), strict=True, validate=True) is not None
    wpl = w.get("analyst", f"/api/reports/{rid}/follow-up", params={"format": "waypoints", "altitude": 8})
    assert wpl.status_code == 200 and wpl.text.startswith("QGC WPL 110")
    # the stability planned with, and the planner's advice where the plume reaches the altitude late
    assert r.headers["x-stability"] == str(an.stability())
    assert r.headers["x-rate-g-s"] == f"{planned_rate(an.targets[0], st):.4g}"  # (the rate laid for)
    advised = flown_lower = 0
    for alt in (8.0, 12.0, 16.0, 20.0, 40.0):
        got = w.get("analyst", f"/api/reports/{rid}/follow-up", params={"altitude": alt})
        assert got.status_code == 200, got.text
        craft = [Aircraft(speed_m_s=5.0, endurance_s=1800.0, min_altitude_m=5.0)]
        at = st.model_copy(update={"altitude_m": alt, "aircraft": craft})
        low = lower_altitude(an.targets[0], at)
        try:
            follow_up_area(an.targets[0], at)
        except ConfigError:  # never detectable so high: flown where it would be seen, and said so
            flown_lower += 1
            assert got.headers["x-altitude-m"] == f"{low[0]:g}" and "x-lower-altitude-m" not in got.headers
            assert f"never reaches {alt:g} m; planned at {low[0]:g} m" in got.headers["x-follow-up-advice"]
            continue
        assert got.headers["x-altitude-m"] == f"{alt:g}"
        assert got.headers.get("x-lower-altitude-m") == (None if low is None else f"{low[0]:g}")
        if low is not None:
            advised += 1
            assert f"at {low[0]:g} m it would be detectable" in got.headers["x-follow-up-advice"]
    assert advised and flown_lower
    # a site that allows nothing below 30 m: the weakest plume is seen at no allowed height
    refused = w.get("analyst", f"/api/reports/{rid}/follow-up", params={"altitude": 40, "min_altitude": 30})
    assert refused.status_code == 422 and "fly lower" in refused.json()["detail"]
    # partners may not plan flights; nonsense settings are refused with the reason
    assert w.get("partner_a", f"/api/reports/{rid}/follow-up").status_code == 403
    bad = w.get("analyst", f"/api/reports/{rid}/follow-up", params={"altitude": 0})
    assert bad.status_code == 422
    assert w.get("analyst", f"/api/reports/{rid}/follow-up", params={"sortie": 2}).status_code == 404


def test_a_report_carries_its_near_crossing_widening(analysed):
    """The API gives the dashboard the factor a flight's region was widened by (1 when its plume
    was seen farther out than 60 m), as the stored feature has it."""
    w, _m, _f, run = analysed
    for rid in run["reports"]:
        got = w.get("analyst", f"/api/reports/{rid}").json()["near_crossing_widening"]
        assert got == _report_row(w, rid).feature["properties"]["near_crossing_widening"] >= 1.0
