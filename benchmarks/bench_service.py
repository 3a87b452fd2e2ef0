"""Load test of the service on loopback: report reads per second and latency.

    python benchmarks/bench_service.py [--requests 6000] [--concurrency 8] [--db sqlite|URL]

Starts the real `plumescout serve` (one process) on 127.0.0.1 with a store holding 200 source
reports, 100 of them released to a partner, and drives it with a bounded number of requests from
an asyncio httpx client (concurrency C, at most --max-seconds per phase; it stops by itself).
Phases, in one run: the health probe (no auth, no store: the baseline), an analyst reading reports
(`GET /api/reports/{id}`: token check, report, history, releases, an audit entry written and
committed per read), a partner reading released reports (release check), and the report list.
Target: >= 200 report reads/s with p99 < 100 ms and no errors on 2 cores. Writes
benchmarks/results/service_load.md (service_load_postgresql.md with --db URL) with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from estimator_suite import machine  # noqa: E402

from plumescout.service.app import bootstrap  # noqa: E402
from plumescout.service.db import AnalysisRun, Flight, Mission, Report, ReportEvent, make_engine, sessions  # noqa: E402
from plumescout.service.settings import ServiceSettings  # noqa: E402

OUT = Path(__file__).parent / "results" / "service_load.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def populate(db: str, n_reports: int = 200) -> dict:
    st = ServiceSettings(db=db)
    _uid, admin = bootstrap(st, "Agency", "admin")
    engine = make_engine(st.url)
    S = sessions(engine)
    from plumescout.service.db import ApiToken, Organisation, Release, User
    from plumescout.service.security import new_api_token

    tokens = {"admin": admin}
    with S.begin() as s:
        agency = s.query(Organisation).filter_by(name="Agency").one()
        partner = Organisation(name="Partner")
        s.add(partner)
        s.flush()
        users = {}
        for name, org, role in (("analyst", agency.id, "analyst"), ("partner", partner.id, "partner")):
            u = User(username=name, org_id=org, role=role)
            s.add(u)
            s.flush()
            tok, digest, prefix = new_api_token()
            s.add(ApiToken(user_id=u.id, name="bench", token_sha256=digest, prefix=prefix))
            users[name], tokens[name] = u, tok
        m = Mission(org_id=agency.id, name="bench", created_by=users["analyst"].id)
        s.add(m)
        s.flush()
        f = Flight(
            mission_id=m.id,
            filename="f.csv",
            sha256="0" * 64,
            size_bytes=1,
            format="csv",
            samples=1,
            uploaded_by=users["analyst"].id,
        )
        s.add(f)
        s.flush()
        run = AnalysisRun(mission_id=m.id, flight_id=f.id, created_by=users["analyst"].id, state="done")
        s.add(run)
        s.flush()
        rng = np.random.default_rng(1)
        ids, released = [], []
        for i in range(n_reports):
            lat, lon = 51.14 + rng.normal(0, 0.01), -1.44 + rng.normal(0, 0.01)
            feat = {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {"id": f"S{i}", "species": "ch4", "class_probabilities": {"fossil gas": 0.9}},
            }
            r = Report(
                mission_id=m.id,
                run_id=run.id,
                org_id=agency.id,
                uid=f"{i:032x}",
                source_id=f"S{i}",
                title=f"bench S{i}",
                lat=lat,
                lon=lon,
                location_ci90_m=20.0,
                species="ch4",
                rate_g_s=0.5,
                rate_g_s_lo=0.3,
                rate_g_s_hi=0.8,
                probability=0.9,
                feature=feat,
            )
            s.add(r)
            s.flush()
            s.add(ReportEvent(report_id=r.id, kind="created"))
            ids.append(r.id)
            if i % 2 == 0:
                s.add(Release(report_id=r.id, org_id=partner.id, released_by=users["analyst"].id))
                released.append(r.id)
    engine.dispose()
    return {"tokens": tokens, "ids": ids, "released": released}


async def phase(base, paths, token, n, concurrency, max_s) -> dict:
    lat, errors, done = [], 0, 0
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.perf_counter() + max_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=10) as client:
        rng = random.Random(7)

        async def worker():
            nonlocal errors, done
            while done < n and time.perf_counter() < deadline:
                done += 1
                p = rng.choice(paths)
                t = time.perf_counter()
                try:
                    r = await client.get(p)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append(time.perf_counter() - t)
                errors += 0 if ok else 1

        for _ in range(20):  # warm-up (connections, caches)
            await client.get(paths[0])
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    a = np.array(lat) * 1000.0
    return {
        "requests": len(a),
        "errors": errors,
        "rps": len(a) / wall,
        "p50": float(np.percentile(a, 50)),
        "p99": float(np.percentile(a, 99)),
        "max": float(a.max()),
        "wall": wall,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=6000, help="per phase (bounded)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-seconds", type=float, default=60.0, help="per phase (bounded)")
    ap.add_argument("--db", default="sqlite", help="'sqlite' (a temporary file) or a database URL")
    ap.add_argument("--out", type=Path, default=None, help="default: results/service_load[_postgresql].md")
    args = ap.parse_args(argv)

    if args.out is None:
        args.out = OUT if args.db == "sqlite" else OUT.with_name("service_load_postgresql.md")
    tmp = Path(tempfile.mkdtemp(prefix="plumescout-load-"))
    db = str(tmp / "store.db") if args.db == "sqlite" else args.db
    seeded = populate(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plumescout.cli",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--data-dir",
            str(tmp / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        t = seeded["tokens"]
        phases = [
            ("health probe (baseline: no auth, no store)", ["/api/health"], None),
            ("analyst reads a report", [f"/api/reports/{i}" for i in seeded["ids"]], t["analyst"]),
            ("partner reads a released report", [f"/api/reports/{i}" for i in seeded["released"]], t["partner"]),
            ("analyst lists reports (200)", ["/api/reports"], t["analyst"]),
        ]
        results = []
        for name, paths, tok in phases:
            r = asyncio.run(phase(base, paths, tok, args.requests, args.concurrency, args.max_seconds))
            results.append((name, r))
            print(
                f"{name}: {r['rps']:.0f}/s p50 {r['p50']:.1f} ms p99 {r['p99']:.1f} ms errors {r['errors']}", flush=True
            )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        log.close()

    base_rps = results[0][1]["rps"]
    backend = (
        "SQLite (WAL; reads and their audit entries committed with synchronous=NORMAL, acknowledged changes FULL)"
        if args.db == "sqlite"
        else "PostgreSQL"
    )
    lines = [
        "# Service load test (loopback)",
        "",
        f"Command: `python benchmarks/bench_service.py --requests {args.requests} --concurrency {args.concurrency}"
        + ("`" if args.db == "sqlite" else " --db postgresql+psycopg://...` (PostgreSQL 15 on the same machine)"),
        "",
        f"Machine: {machine()}",
        f"Store: {backend}; one `plumescout serve` process (uvicorn); client: httpx asyncio, "
        f"{args.concurrency} connections, same machine. 200 reports, 100 released to the partner.",
        "Every report read checks the bearer token (SHA-256 lookup), loads the report, its history and",
        "releases (analyst) or checks the release (partner), and writes and commits an audit entry.",
        "",
        "| phase | requests | errors | req/s | ratio to baseline | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results:
        lines.append(
            f"| {name} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | {r['rps'] / base_rps:.2f} | "
            f"{r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} |"
        )
    reads = [r for n, r in results if "reads" in n]
    ok = all(r["rps"] >= 200 and r["p99"] < 100 and r["errors"] == 0 for r in reads)
    lines += ["", f"Target (>= 200 report reads/s, p99 < 100 ms, no errors): {'MET' if ok else 'NOT MET'}", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
