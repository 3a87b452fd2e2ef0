// plumescout dashboard: reports list and detail, map of tracks (coloured by gas enhancement) and
// sources with their 90 % regions. Works offline: Leaflet and the outline basemap ship with the
// package; a tile layer is used only when the server is configured with one and it loads.
"use strict";

const state = { token: sessionStorage.getItem("plumescout.token"), me: null, reports: [], selected: null, orgs: [] };
const orgName = (id) => (state.orgs.find((o) => o.id === id) || { name: `organisation ${id}` }).name;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {}, state.token ? { Authorization: `Bearer ${state.token}` } : {});
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  if (r.status === 401) { signOut("Please sign in."); throw new Error("unauthorised"); }
  if (!r.ok) {
    let msg = `${r.status}`;
    try { msg = detailText((await r.json()).detail); } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r;
}
// an error's detail as a person reads it: a refused file names its line and field
function detailText(d) {
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).filter((x) => x !== "body").join(".")}: ${e.msg}`).join("; ");
  if (d && d.message) return [d.file, d.line != null ? `line ${d.line}` : "", d.field ? `field '${d.field}'` : ""].filter(Boolean).join(", ") + `: ${d.message}`;
  return JSON.stringify(d);
}
const getJSON = async (path) => (await api(path)).json();
const postJSON = (path, body) => api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
function say(text) { $("message").textContent = text || ""; }

// ------------------------------------------------------------------ map
const map = L.map("map", { zoomControl: true, preferCanvas: false, minZoom: 1, maxZoom: 20 }).setView([20, 0], 2);
const layers = { base: L.layerGroup().addTo(map), tracks: L.layerGroup().addTo(map), sources: L.layerGroup().addTo(map) };
L.control.scale({ imperial: false }).addTo(map);
let outlineShown = false;

async function outlineBasemap() {
  if (outlineShown) return;
  outlineShown = true;
  const topo = await (await fetch("/static/vendor/world-atlas/countries-50m.json")).json();
  const land = topojson.feature(topo, topo.objects.land);
  const borders = topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b);
  L.geoJSON(land, { interactive: false, style: { className: "basemap", color: "#6b7b8c", weight: 1, fillColor: "#f4f1ea", fillOpacity: 1 } }).addTo(layers.base);
  L.geoJSON(borders, { interactive: false, style: { className: "basemap", color: "#9aa5b1", weight: 0.8, dashArray: "4 3", fill: false } }).addTo(layers.base);
  map.getContainer().dataset.basemap = "outline";
}

function tileBasemap(url, attribution) {
  let failures = 0, loaded = 0;
  const tiles = L.tileLayer(url, { attribution, maxZoom: 20 });
  tiles.on("tileload", () => { loaded += 1; map.getContainer().dataset.basemap = "tiles"; });
  tiles.on("tileerror", () => {
    failures += 1;
    if (failures >= 2 && loaded === 0) { map.removeLayer(tiles); outlineBasemap(); }
  });
  tiles.addTo(map);
}

// viridis-like ramp for the enhancement relative to the detection threshold
const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
function colour(v, vmax) {
  if (v === null || !isFinite(v) || v <= 0) return RAMP[0];
  const f = Math.min(1, v / vmax);
  return RAMP[Math.min(RAMP.length - 1, Math.floor(f * RAMP.length))];
}

const legend = L.control({ position: "bottomright" });
legend.onAdd = () => { const d = L.DomUtil.create("div", "legend"); d.id = "legend"; return d; };
legend.addTo(map);

async function drawTracks(runIds) {
  layers.tracks.clearLayers();
  const bounds = [];
  let species = "", vmax = 0;
  for (const id of runIds) {
    let t;
    try { t = await getJSON(`/api/runs/${id}/track`); } catch (e) { continue; }
    species = t.species;
    if (t.beams) { // a beam or fixed-sensor data set: its paths (or sensors), coloured by their excess
      const vals = t.beams.map((b) => b.enhancement_ppm).filter((v) => v !== null);
      vmax = Math.max(vmax, vals.length ? Math.max(...vals) : 1, 3 * t.threshold_ppm);
      for (const b of t.beams) {
        const c = colour(b.enhancement_ppm ?? 0, vmax);
        const tip = `${esc(t.species)} ${b.enhancement_ppm === null ? "no reading" : b.enhancement_ppm.toPrecision(3) + " ppm above the lowest beam"} (${b.readings} readings)`;
        const ends = [[b.lat[0], b.lon[0]], [b.lat[1], b.lon[1]]];
        if (b.lat[0] === b.lat[1] && b.lon[0] === b.lon[1]) {
          L.circleMarker(ends[0], { className: "beam", radius: 5, color: c, fillColor: c, fillOpacity: 0.9, weight: 1 }).bindTooltip(tip).addTo(layers.tracks);
        } else {
          L.polyline(ends, { className: "beam", color: c, weight: 4, opacity: 0.9 }).bindTooltip(tip).addTo(layers.tracks);
        }
        bounds.push(...ends);
      }
    }
    if (!t.lat) continue; // beams alone; a flight over beams has both
    const finite = t.enhancement_ppm.filter((v) => v !== null).sort((a, b) => a - b);
    vmax = Math.max(vmax, finite.length ? finite[Math.floor(0.995 * (finite.length - 1))] : 1, 3 * t.threshold_ppm);
    for (let i = 1; i < t.lat.length; i++) {
      if (t.lat[i - 1] === null || t.lat[i] === null) continue; // a break: between sorties, or a dropout
      const v = Math.max(t.enhancement_ppm[i - 1] ?? 0, t.enhancement_ppm[i] ?? 0);
      L.polyline([[t.lat[i - 1], t.lon[i - 1]], [t.lat[i], t.lon[i]]], { className: "track-seg", color: colour(v, vmax), weight: 3, opacity: 0.9, interactive: false }).addTo(layers.tracks);
      bounds.push([t.lat[i], t.lon[i]]);
    }
  }
  $("legend").innerHTML = runIds.length && species
    ? `<div>${esc(species)} enhancement (ppm)</div><div class="bar"></div><div style="display:flex;justify-content:space-between"><span>0</span><span>${vmax.toFixed(2)}+</span></div><div>ellipses (flights) and circles: 90 % regions</div>`
    : "ellipses (flights) and circles: 90 % regions of the sources";
  return bounds;
}

// an ellipse (semi-axes m, major axis azimuth deg east of north) about lat, lon as a ring of
// [lat, lon] (local flat-earth metres: the regions are tens to hundreds of metres)
function ellipseRing(lat, lon, e, n = 72) {
  const t = (e.major_axis_azimuth_deg * Math.PI) / 180;
  const mLat = 111320, mLon = 111320 * Math.cos((lat * Math.PI) / 180);
  const ring = [];
  for (let i = 0; i < n; i++) {
    const g = (2 * Math.PI * i) / n, u = e.semi_major_m * Math.cos(g), v = e.semi_minor_m * Math.sin(g);
    const east = u * Math.sin(t) + v * Math.cos(t), north = u * Math.cos(t) - v * Math.sin(t);
    ring.push([lat + north / mLat, lon + east / mLon]);
  }
  return ring;
}

const STATUS_COLOUR = { candidate: "#d4a000", confirmed: "#c62828", dismissed: "#7a7a7a" };
function drawSources(reports) {
  layers.sources.clearLayers();
  const pts = [];
  for (const r of reports) {
    const c = STATUS_COLOUR[r.status];
    const e = r.location_ci90_ellipse;
    if (e) {  // flights: the ellipse (posteriors stretch along the wind); the circle of the same coverage faint
      L.polygon(ellipseRing(r.lat, r.lon, e), { className: "region", color: c, weight: 2, fillOpacity: 0.15 })
        .bindTooltip(`${esc(r.title)} — 90 % region ${e.semi_major_m.toFixed(0)} × ${e.semi_minor_m.toFixed(0)} m (or within ${r.location_ci90_m.toFixed(1)} m)`)
        .on("click", () => select(r.id)).addTo(layers.sources);
    }
    L.circle([r.lat, r.lon], e
      ? { radius: r.location_ci90_m, className: "region-circle", color: c, weight: 1, dashArray: "2 4", fill: false }
      : { radius: r.location_ci90_m, className: "region", color: c, weight: 2, fillOpacity: 0.15 })
      .bindTooltip(`${esc(r.title)} — 90 % region ${r.location_ci90_m.toFixed(1)} m`).on("click", () => select(r.id)).addTo(layers.sources);
    // a low probability of existing: drawn hollow, to be confirmed before anyone acts on it
    const low = (r.flags || []).includes("low_probability");
    L.circleMarker([r.lat, r.lon], low
      ? { radius: 6, className: "source low-probability", color: c, weight: 2.5, fillColor: "#fff", fillOpacity: 1 }
      : { radius: 5, className: "source", color: "#000", weight: 1, fillColor: c, fillOpacity: 1 })
      .on("click", () => select(r.id)).addTo(layers.sources);
    pts.push([r.lat, r.lon]);
  }
  return pts;
}

// ------------------------------------------------------------------ reports
async function loadReports() {
  const st = $("status-filter").value;
  state.reports = await getJSON(`/api/reports${st ? `?status=${st}` : ""}`);
  $("count").textContent = `(${state.reports.length})`;
  const ul = $("report-list");
  ul.innerHTML = "";
  for (const r of state.reports) {
    const li = document.createElement("li");
    li.dataset.id = r.id;
    li.innerHTML = `<span class="chip ${esc(r.status)}">${esc(r.status)}</span> <b>${esc(r.title)}</b><br>
      ${r.emission_rate_g_s.toPrecision(3)} g/s · P ${r.probability.toFixed(2)} · ±${r.location_ci90_m.toFixed(0)} m${r.source_class ? ` · ${esc(r.source_class)}` : ""}`;
    li.onclick = () => select(r.id);
    ul.appendChild(li);
  }
  const runs = state.me && state.me.role !== "partner" ? [...new Set(state.reports.map((r) => r.run_id))] : [];
  const b = (await drawTracks(runs)).concat(drawSources(state.reports));
  if (b.length) map.fitBounds(L.latLngBounds(b).pad(0.15), { maxZoom: 17 });
}

async function blobURL(path) { return URL.createObjectURL(await (await api(path)).blob()); }

async function download(path, name) {
  const res = await api(path);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await res.blob());
  a.download = name;
  a.click();
  return res;
}

// what each flag of a source means, and (for those who can run the flight again) what to do
const FLAGS = {
  region_at_search_edge: ["90 % region at the edge of the search area: the source may lie beyond it", "run again with a larger max_margin_m"],
  rate_at_prior_cap: ["rate held by the rate prior's cap: the source may be stronger than reported", "run again with a higher max_rate_g_s"],
  single_crossing: ["seen on one plume crossing at most: how far upwind it lies rests on the plume model's width alone", "fly lines across the wind over its region (plumescout follow-up plans them)"],
  low_probability: ["a low probability of existing: on simulated surveys about 4 in 10 sources reported below 0.7 were not there", "confirm it before acting: fly lines across the wind over its region (plumescout follow-up plans them)"],
};

function flagText(flag, staff) {
  const [what, todo] = FLAGS[flag] || [flag.replaceAll("_", " "), ""];
  return esc(what) + (staff && todo ? ` <small>(${esc(todo)})</small>` : "");
}

async function select(id) {
  state.selected = id;
  for (const li of document.querySelectorAll("#report-list li")) li.classList.toggle("selected", li.dataset.id === String(id));
  const r = await getJSON(`/api/reports/${id}`);
  const staff = state.me.role !== "partner";
  const probs = r.class_probabilities ? Object.entries(r.class_probabilities).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${esc(k)} ${(100 * v).toFixed(0)} %`).join(", ") : "–";
  const d = $("detail");
  d.hidden = false;
  d.innerHTML = `<h3>${esc(r.title)} <span class="chip ${esc(r.status)}">${esc(r.status)}</span></h3>
  <table>
    <tr><td>position</td><td>${r.lat.toFixed(7)}, ${r.lon.toFixed(7)} (90 % within ${r.location_ci90_m.toFixed(1)} m${r.location_ci90_ellipse ? `, or an ellipse of ${r.location_ci90_ellipse.semi_major_m.toFixed(0)} × ${r.location_ci90_ellipse.semi_minor_m.toFixed(0)} m along ${r.location_ci90_ellipse.major_axis_azimuth_deg.toFixed(0)}°` : ""})</td></tr>
    ${(r.near_crossing_widening || 1) > 1 ? `<tr><td></td><td><small>region and rate interval widened ${r.near_crossing_widening.toPrecision(2)}×: every plume crossing lies near the source, where a plume is a meandering train of puffs more than the average plume the model describes</small></td></tr>` : ""}
    <tr><td>emission rate</td><td>${r.emission_rate_g_s.toPrecision(3)} g/s, 90 % [${r.emission_rate_g_s_ci90.map((v) => v.toPrecision(3)).join(", ")}]</td></tr>
    <tr><td>exists</td><td>probability ${r.probability.toFixed(3)}</td></tr>
    ${(r.flags || []).length ? `<tr class="warning"><td>warning</td><td>${r.flags.map((f) => flagText(f, staff)).join("<br>")}</td></tr>` : ""}
    <tr><td>species</td><td>${esc(r.species)}</td></tr>
    <tr><td>kind of site</td><td>${esc(r.source_class || "–")}<br><small>${probs}</small></td></tr>
    <tr><td>report</td><td>${esc(r.uid)} v${r.version}</td></tr>
  </table>
  <div class="exports">
    <button data-x="geojson">GeoJSON</button><button data-x="kml">KML</button><button data-x="cot">CoT</button>
    ${staff ? `<div class="follow-up">follow-up flight over its region: <button data-f="plan">.plan</button><button data-f="kml">KML</button></div>` : ""}
  </div>
  ${staff ? `<div class="actions">
    <button data-s="confirmed">Confirm</button><button data-s="dismissed">Dismiss</button><button data-s="candidate">Back to candidate</button>
    <textarea id="note" placeholder="analyst note"></textarea><button id="add-note">Add note</button>
    <div><select id="release-org"></select><button id="release">Release to partner</button></div>
    <div class="released">${(r.releases || []).filter((x) => !x.withdrawn_at).map((x) => `released to ${esc(orgName(x.org_id))}`).join("; ")}</div>
  </div>` : ""}
  <h4>Evidence</h4><div id="evidence"></div>
  ${staff ? `<h4>History</h4><ul class="history">${(r.history || []).map((e) => `<li>${esc(e.at)} · ${esc(e.kind)} · ${esc(JSON.stringify(e.detail))}</li>`).join("")}</ul>` : ""}`;
  for (const b of d.querySelectorAll("[data-x]")) {
    const ext = { geojson: "geojson", kml: "kml", cot: "cot.xml" }[b.dataset.x];
    b.onclick = () => download(`/api/reports/${id}/${b.dataset.x}`, `${r.uid}.${ext}`).catch((e) => say(e.message));
  }
  for (const b of d.querySelectorAll("[data-f]")) {
    // the planner's advice (fly lower: the plume reaches the flight's height beyond the region) is shown
    b.onclick = () => download(`/api/reports/${id}/follow-up?format=${b.dataset.f}`, `${r.uid}-follow-up.${b.dataset.f}`)
      .then((res) => say(res.headers.get("X-Follow-Up-Advice") || "")).catch((e) => say(e.message));
  }
  for (const b of d.querySelectorAll("[data-s]")) {
    b.onclick = async () => {
      try {
        await api(`/api/reports/${id}`, { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ status: b.dataset.s, version: r.version }) });
        await loadReports(); await select(id);
      } catch (e) { say(e.message); }
    };
  }
  if (staff) {
    $("release-org").innerHTML = state.orgs.filter((o) => o.id !== state.me.org_id)
      .map((o) => `<option value="${o.id}">${esc(o.name)}</option>`).join("");
    $("add-note").onclick = async () => {
      try {
        await api(`/api/reports/${id}/notes`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: $("note").value }) });
        await select(id);
      } catch (e) { say(e.message); }
    };
    $("release").onclick = async () => {
      try {
        await api(`/api/reports/${id}/releases`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ org_id: Number($("release-org").value) }) });
        await select(id);
      } catch (e) { say(e.message); }
    };
  }
  const ev = $("evidence");
  for (const name of r.evidence) {
    const img = document.createElement("img");
    img.alt = `${name} evidence`;
    img.className = `evidence-${name}`;
    img.src = await blobURL(`/api/reports/${id}/evidence/${name}`);
    ev.appendChild(img);
  }
  map.setView([r.lat, r.lon], Math.max(map.getZoom(), 16));
}

// ------------------------------------------------------------------ missions: upload, analyse, follow
// the estimator settings a run may carry (POST /api/missions/{id}/runs "estimator"); blank: defaults
const SETTINGS = [
  ["rate_scale_g_s", "rate prior scale (g/s)"], ["max_rate_g_s", "rate cap (g/s)"],
  ["source_height_m", "source height (m)"], ["source_height_sd_m", "height sd (m; 0: known)"],
  ["max_margin_m", "search area may grow to (m)"],
];
const seenDone = new Set(), primed = new Set();
let polling = null;

function info(text) { $("mission-info").textContent = text || ""; }

async function loadMissions(pick) {
  const ms = await getJSON("/api/missions");
  $("mission").innerHTML = ms.map((m) => `<option value="${m.id}">${esc(m.name)}</option>`).join("");
  if (pick) $("mission").value = String(pick);
  await loadMission(true);
}

async function loadMission(chosen = false) {
  const id = $("mission").value;
  $("analyse").disabled = !id;
  if (!id) { $("flights").innerHTML = ""; $("runs").innerHTML = ""; return; }
  const m = await getJSON(`/api/missions/${id}`);
  if (chosen) showSettings(m.estimator || {}); // a mission just chosen: its kept settings
  const ticked = new Set([...document.querySelectorAll("#flights input:checked")].map((c) => c.value));
  $("flights").innerHTML = m.flights.map((f) => `<tr data-id="${f.id}"><td><input type="checkbox" value="${f.id}" ${ticked.has(String(f.id)) ? "checked" : ""}></td>
    <td>${esc(f.filename)}</td><td>${esc(f.format)}</td><td>${f.samples} ${f.format === "beams" ? "readings" : "samples"}</td>
    <td>${esc((f.species || []).join(", "))}</td></tr>`).join("") || "<tr><td>no flights yet: upload one</td></tr>";
  const fname = Object.fromEntries(m.flights.map((f) => [f.id, f.filename]));
  $("runs").innerHTML = m.runs.slice().reverse().map((r) => `<li class="${esc(r.state)}" data-id="${r.id}">run ${r.id} · ${(r.flight_ids || [r.flight_id]).map((i) => esc(fname[i] || i)).join(" + ")} · ${esc(r.state)}${r.state === "running" ? ` ${Math.round(100 * r.progress)} % ${esc(r.stage)}` : ""}${r.error ? ` · ${esc(r.error)}` : ""}</li>`).join("");
  // a run that finished while watched brings its reports in (runs done before are already listed)
  let fresh = false;
  for (const r of m.runs) if (r.state === "done" && !seenDone.has(r.id)) { seenDone.add(r.id); fresh = fresh || primed.has(m.id); }
  if (fresh) info("");
  primed.add(m.id);
  if (fresh) await loadReports();
  clearTimeout(polling);
  if (m.runs.some((r) => r.state === "queued" || r.state === "running")) polling = setTimeout(() => loadMission().catch((e) => say(e.message)), 1000);
}

// the settings a mission needs are kept with the mission (every analyst's runs of it use them)
function settingsShown() {
  const v = {};
  for (const inp of document.querySelectorAll("#settings-fields input")) if (inp.value !== "") v[inp.dataset.k] = Number(inp.value);
  return v;
}
function showSettings(v) {
  for (const inp of document.querySelectorAll("#settings-fields input")) inp.value = v[inp.dataset.k] ?? "";
}

function setupMissions() {
  $("settings-fields").innerHTML = SETTINGS.map(([k, label]) => `<label>${esc(label)} <input type="number" step="any" min="0" data-k="${k}"></label>`).join("");
  $("mission").onchange = () => loadMission(true).catch((e) => say(e.message));
  $("save-settings").onclick = async () => {
    try {
      await api(`/api/missions/${$("mission").value}`, { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ estimator: settingsShown() }) });
      info("settings kept for this mission");
    } catch (e) { say(e.message); }
  };
  $("create-mission").onclick = async () => {
    try {
      const m = await (await postJSON("/api/missions", { name: $("new-mission").value.trim() })).json();
      $("new-mission").value = "";
      await loadMissions(m.id);
    } catch (e) { say(e.message); }
  };
  $("upload").onsubmit = async (ev) => {
    ev.preventDefault();
    const file = $("upload-file").files[0];
    if (!file || !$("mission").value) { say("Choose a mission and a file."); return; }
    const body = new FormData();
    body.append("file", file);
    if ($("upload-origin").value.trim()) body.append("origin", $("upload-origin").value.trim());
    say(""); info(`uploading ${file.name}…`);
    try {
      const f = await (await api(`/api/missions/${$("mission").value}/flights`, { method: "POST", body })).json();
      info(`${f.filename}: ${f.duplicate ? "already stored" : "stored"}, ${f.samples} ${f.format === "beams" ? "readings" : "samples"}`);
      $("upload-file").value = "";
      await loadMission();
      const box = document.querySelector(`#flights input[value="${f.id}"]`);
      if (box) box.checked = true;
    } catch (e) { info(""); say(e.message); }
  };
  $("analyse").onclick = async () => {
    const ids = [...document.querySelectorAll("#flights input:checked")].map((c) => Number(c.value));
    if (!ids.length) { say("Tick the flight (or the sorties of one survey) to analyse."); return; }
    const estimator = settingsShown();
    const body = Object.assign(ids.length === 1 ? { flight_id: ids[0] } : { flight_ids: ids }, Object.keys(estimator).length ? { estimator } : {});
    say("");
    try {
      const r = await (await postJSON(`/api/missions/${$("mission").value}/runs`, body)).json();
      info(`run ${r.id} queued`);
      await loadMission();
    } catch (e) { say(e.message); }
  };
}

// ------------------------------------------------------------------ sign in / out
function signOut(msg) {
  state.token = null; state.me = null;
  sessionStorage.removeItem("plumescout.token");
  $("login").hidden = false; $("logout").hidden = true; $("whoami").textContent = "";
  $("report-list").innerHTML = ""; $("detail").hidden = true; $("missions").hidden = true;
  clearTimeout(polling);
  layers.tracks.clearLayers(); layers.sources.clearLayers();
  say(msg);
}

async function start() {
  try {
    state.me = await getJSON("/api/me");
  } catch (e) { return; }
  $("login").hidden = true; $("logout").hidden = false;
  $("whoami").textContent = `${state.me.username} · ${state.me.role} · ${state.me.org}`;
  say("");
  if (state.me.role !== "partner") state.orgs = await getJSON("/api/organisations");
  const cfg = await getJSON("/api/config");
  if (cfg.tile_url) tileBasemap(cfg.tile_url, cfg.tile_attribution); else await outlineBasemap();
  await loadReports();
  const staff = state.me.role !== "partner";
  $("missions").hidden = !staff;
  if (staff) await loadMissions();
  document.body.dataset.ready = "1";
}

$("login").onsubmit = async (ev) => {
  ev.preventDefault();
  const body = new URLSearchParams({ username: $("username").value, password: $("password").value });
  const r = await fetch("/api/auth/token", { method: "POST", body });
  if (!r.ok) { say("Wrong username or password."); return; }
  state.token = (await r.json()).access_token;
  sessionStorage.setItem("plumescout.token", state.token);
  start();
};
$("use-token").onclick = () => {
  state.token = $("apitoken").value.trim();
  sessionStorage.setItem("plumescout.token", state.token);
  start();
};
$("logout").onclick = () => signOut("");
setupMissions();
$("status-filter").onchange = () => loadReports().catch((e) => say(e.message));
if (state.token) start(); else signOut("");
