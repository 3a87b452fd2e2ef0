"""The dashboard end to end in headless Chromium (Playwright pointed at the system's Chromium; no
browser download). Skipped where no Chromium is installed, never on CI (.ci/run installs Debian's)."""

import json
import os
import shutil
from pathlib import Path

import pytest

from plumescout.service.app import create_app

from .conftest import free_port, serving


def chromium_path() -> str:
    for name in (os.environ.get("PLUMESCOUT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (p := shutil.which(name)):
            return p
    if os.environ.get("CI"):
        pytest.fail("no Chromium on CI: .ci/run should have installed Debian's chromium")
    pytest.skip("dashboard test skipped: no Chromium found (install Debian's chromium or set PLUMESCOUT_CHROMIUM)")


@pytest.fixture(scope="module")
def served(analysed):
    """The analysed store, served."""
    w, _m, _f, run = analysed
    with serving(w.settings) as (base, app):
        yield w, run, base, app


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def sign_in(browser, base: str, token: str, errors: list | None = None, **page_kw):
    """A new page of the dashboard at ``base``, signed in with an API token and loaded; the
    page's script errors from the start go to ``errors``."""
    page = browser.new_page(**page_kw)
    if errors is not None:
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/")
    page.fill("#apitoken", token)
    page.click("#use-token")
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    return page


def test_analyst_sees_tracks_sources_regions_reports_and_evidence(served, browser, tmp_path):
    w, run, base, _app = served
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base + "/")
    page.fill("#username", "analyst")
    page.fill("#password", "pw-analyst-123")
    page.click("#login button[type=submit]")
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    n = len(w.get("analyst", "/api/reports").json())
    assert n >= len(run["reports"]) >= 1
    assert page.locator("#report-list li").count() == n
    assert page.locator("path.region").count() == n  # one 90 % region per source
    # a flight's: the ellipse, with the circle of the same coverage dotted beside it
    assert page.locator("path.region-circle").count() == n
    assert page.locator("path.track-seg").count() > 100  # the track, coloured by enhancement
    colours = set(page.eval_on_selector_all("path.track-seg", "els => els.map(e => e.getAttribute('stroke'))"))
    assert len(colours) >= 3  # the plume shows in colour along the track
    assert page.get_attribute("#map", "data-basemap") == "outline"  # no tiles configured: the shipped outline
    assert page.locator("path.basemap").count() >= 1
    page.locator("#report-list li").first.click()
    page.wait_for_selector("#detail img.evidence-map", timeout=30000)
    page.screenshot(path=str(tmp_path / "dashboard.png"))
    if os.environ.get("PLUMESCOUT_SCREENSHOT"):
        page.screenshot(path=os.environ["PLUMESCOUT_SCREENSHOT"])
    page.wait_for_function("document.querySelector('#detail img.evidence-map').naturalWidth > 0", timeout=30000)
    assert "emission rate" in page.inner_text("#detail")
    assert "or an ellipse of" in page.inner_text("#detail")
    # the follow-up flight over its region downloads as a QGroundControl plan
    with page.expect_download() as dl:
        page.click("#detail [data-f='plan']")
    assert dl.value.suggested_filename.endswith("-follow-up.plan")
    plan = json.loads(Path(dl.value.path()).read_text())
    assert any(it["command"] == 16 for it in plan["mission"]["items"])  # its waypoints
    # the partner organisations are offered for release by name
    options = page.eval_on_selector_all("#release-org option", "els => els.map(e => e.textContent)")
    assert "PartnerA" in options and "Agency" not in options
    # an analyst confirms and annotates from the page; the history shows both
    page.click("#detail [data-s='confirmed']")
    page.wait_for_selector("#detail h3 .chip.confirmed", timeout=30000)
    page.fill("#note", "vehicle seen at the site")
    page.click("#add-note")
    page.wait_for_function("document.querySelector('#detail .history').textContent.includes('vehicle seen')")
    assert errors == []
    page.close()


def test_unreachable_tiles_fall_back_to_the_outline_basemap(served, browser):
    w, _run, base, app = served
    dead = free_port()  # nothing listens there
    app.state.settings.tile_url = f"http://127.0.0.1:{dead}/{{z}}/{{x}}/{{y}}.png"
    try:
        page = browser.new_page()
        page.goto(base + "/")
        page.fill("#apitoken", w.tokens["analyst"])
        page.click("#use-token")
        page.wait_for_selector("body[data-ready='1']", timeout=30000)
        page.wait_for_function("document.querySelector('#map').dataset.basemap === 'outline'", timeout=30000)
        assert page.locator("path.basemap").count() >= 1
        page.close()
    finally:
        app.state.settings.tile_url = None


def test_partner_sees_only_the_released_report_and_no_tracks(served, browser):
    w, run, base, _app = served
    rid = run["reports"][0]
    assert w.post("analyst", f"/api/reports/{rid}/releases", json={"org_id": w.orgs["PartnerA"]}).status_code == 201
    page = browser.new_page()
    page.goto(base + "/")
    page.fill("#apitoken", w.tokens["partner_a"])
    page.click("#use-token")
    page.wait_for_selector("body[data-ready='1']", timeout=30000)
    assert page.locator("#report-list li").count() == 1
    assert page.locator("path.region").count() == 1
    assert page.locator("path.track-seg").count() == 0
    page.locator("#report-list li").first.click()
    page.wait_for_selector("#detail h3", timeout=30000)
    assert page.locator("#detail [data-f]").count() == 0  # partners plan no flights
    page.close()


def test_a_flagged_report_warns_and_tells_staff_what_to_do(served, capped, browser):
    """A run with the rate prior capped below the leak (conftest.CAP) gives a report whose rate is
    held by the cap: the detail says so, and tells an analyst how to run it again; a partner it is
    released to reads the warning without the advice (they cannot run flights)."""
    w, base = served[0], served[2]
    _w, run = capped
    reports = [w.get("analyst", f"/api/reports/{i}").json() for i in run["reports"]]
    flagged = [r["id"] for r in reports if "rate_at_prior_cap" in r["flags"]]
    assert flagged
    rid = flagged[0]
    assert w.post("analyst", f"/api/reports/{rid}/releases", json={"org_id": w.orgs["PartnerB"]}).status_code == 201
    for who, advice in (("analyst", True), ("partner_b", False)):
        page = sign_in(browser, base, w.tokens[who])
        # every listed source is drawn, those of low probability hollow (class low-probability)
        ids = page.eval_on_selector_all("#report-list li", "els => els.map((e) => e.dataset.id)")
        low = [i for i in ids if "low_probability" in w.get(who, f"/api/reports/{i}").json()["flags"]]
        assert page.locator("path.source").count() == len(ids)
        assert page.locator("path.source.low-probability").count() == len(low)
        page.locator(f"#report-list li[data-id='{rid}']").click()
        page.wait_for_selector("#detail tr.warning", timeout=30000)
        text = page.inner_text("#detail tr.warning")
        assert "held by the rate prior's cap" in text
        assert ("higher max_rate_g_s" in text) == advice  # a partner cannot run the flight again
        page.close()


def test_a_beam_data_set_is_drawn_as_its_beams(beam_analysed, browser):
    """A run on a beam data set (Chilbolton 2017, uploaded as a ZIP) shows its seven beams,
    coloured by their excess, where a flight would show its track, and the source's region."""
    w, _m, _f, run = beam_analysed
    with serving(w.settings) as (base, _app):
        errors = []
        page = sign_in(browser, base, w.tokens["analyst"], errors, viewport={"width": 1200, "height": 800})
        assert page.locator("path.beam").count() == 7  # beams.csv
        assert page.locator("path.track-seg").count() == 0
        assert page.locator("path.region").count() == len(run["reports"]) == 1
        colours = set(page.eval_on_selector_all("path.beam", "els => els.map(e => e.getAttribute('stroke'))"))
        assert len(colours) >= 2  # the beams the plume crosses stand out
        page.locator("#report-list li").first.click()
        page.wait_for_selector("#detail img.evidence-map", timeout=30000)
        if os.environ.get("PLUMESCOUT_SCREENSHOT_BEAMS"):
            page.screenshot(path=os.environ["PLUMESCOUT_SCREENSHOT_BEAMS"])
        assert errors == []
        page.close()


def test_an_analyst_uploads_and_analyses_a_flight_from_the_dashboard(browser, flight_csv, tmp_path):
    """The whole round from the page: a new mission, a malformed log refused naming its file and
    field, the flight uploaded, analysed with a rate cap below its 0.5 g/s leak (tests/conftest.py),
    the run followed to done, and its report listed with the cap's warning."""
    from fastapi.testclient import TestClient

    from plumescout.service.settings import ServiceSettings

    from .conftest import populate

    settings = ServiceSettings(db=str(tmp_path / "store.db"), jwt_secret="test-secret-" + "d" * 32)
    setup = create_app(settings, start_jobs=False)
    with TestClient(setup) as client:
        w = populate(client, settings)
    setup.state.engine.dispose()
    bad = tmp_path / "nolat.csv"
    lines = flight_csv.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("lat")
    bad.write_text("\n".join(",".join(v for k, v in enumerate(r.split(",")) if k != col) for r in lines[:50]) + "\n")
    with serving(settings, start_jobs=True) as (base, _app):
        errors = []
        page = sign_in(browser, base, w.tokens["analyst"], errors, viewport={"width": 1400, "height": 1000})
        assert page.is_visible("#missions")
        page.fill("#new-mission", "Field B")
        page.click("#create-mission")
        page.wait_for_function("document.querySelector('#mission').selectedOptions[0]?.textContent === 'Field B'")
        page.set_input_files("#upload-file", str(bad))
        page.click("#upload button[type=submit]")
        page.wait_for_function("document.querySelector('#message').textContent.includes('nolat.csv')", timeout=30000)
        assert "lat" in page.inner_text("#message")
        assert page.locator("#flights input[type=checkbox]").count() == 0  # nothing stored
        page.set_input_files("#upload-file", str(flight_csv))
        page.click("#upload button[type=submit]")
        page.wait_for_selector("#flights input[type=checkbox]:checked", timeout=30000)
        assert "stored" in page.inner_text("#mission-info")
        page.click("#settings summary")
        page.fill("#settings-fields input[data-k='rate_scale_g_s']", "0.1")
        page.fill("#settings-fields input[data-k='max_rate_g_s']", "0.2")
        page.click("#analyse")
        page.wait_for_selector("#runs li.done", timeout=240000)
        page.wait_for_function("document.querySelectorAll('#report-list li').length >= 1", timeout=30000)
        page.locator("#report-list li").first.click()
        page.wait_for_selector("#detail tr.warning", timeout=30000)
        assert "held by the rate prior's cap" in page.inner_text("#detail tr.warning")
        assert page.locator("path.track-seg").count() > 100  # the run's track on the map
        if os.environ.get("PLUMESCOUT_SCREENSHOT_MISSIONS"):
            page.screenshot(path=os.environ["PLUMESCOUT_SCREENSHOT_MISSIONS"])
        # the mission's settings are kept with it, for its next flights (and other analysts)
        page.click("#save-settings")
        page.wait_for_function("document.querySelector('#mission-info').textContent.includes('kept')")
        page.reload()
        page.wait_for_selector("body[data-ready='1']", timeout=30000)
        page.select_option("#mission", label="Field B")
        assert page.input_value("#settings-fields input[data-k='max_rate_g_s']") == "0.2"
        assert page.input_value("#settings-fields input[data-k='source_height_m']") == ""
        assert errors == []
        page.close()
