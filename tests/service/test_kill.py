"""Killing the server (SIGKILL) during an upload loses nothing that was acknowledged: the real
`plumescout serve` in a subprocess, uploads acknowledged, one cut off mid-body, kill -9, restart."""

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from plumescout.service.app import bootstrap
from plumescout.service.settings import ServiceSettings

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db, port, log):
    proc = subprocess.Popen(
        [sys.executable, "-m", "plumescout.cli", "serve", "--db", str(db), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"server did not start: {log.name}")


def _kill(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_sigkill_during_upload_keeps_every_acknowledged_flight(tmp_path, flight_csv):
    db = tmp_path / "store.db"
    _uid, token = bootstrap(ServiceSettings(db=str(db)), "Agency", "admin")
    h = {"Authorization": f"Bearer {token}"}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    proc = _start(db, port, log)
    try:
        mid = httpx.post(f"{base}/api/missions", json={"name": "m"}, headers=h).json()["id"]
        lines = flight_csv.read_text().splitlines(keepends=True)
        acked = {}
        for k in range(4):  # four different files (each one row shorter)
            body = "".join(lines[: len(lines) - k]).encode()
            r = httpx.post(f"{base}/api/missions/{mid}/flights", files={"file": (f"f{k}.csv", body)}, headers=h)
            assert r.status_code == 201, r.text
            acked[r.json()["id"]] = hashlib.sha256(body).hexdigest()
        # an upload cut off: headers and half the body sent, then the server is killed
        big = "".join(lines).encode() * 3
        boundary = "plumescoutboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        payload = head + big + tail
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(
            (
                f"POST /api/missions/{mid}/flights HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode()
        )
        s.sendall(payload[: len(payload) // 2])
        time.sleep(0.5)
        _kill(proc)
        s.close()
    finally:
        if proc.poll() is None:
            _kill(proc)

    # the store is whole after the kill
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    proc = _start(db, port, log)
    try:
        flights = httpx.get(f"{base}/api/missions/{mid}/flights", headers=h).json()
        assert {f["id"]: f["sha256"] for f in flights} == acked
        for fid, sha in acked.items():
            raw = httpx.get(f"{base}/api/flights/{fid}/raw", headers=h).content
            assert hashlib.sha256(raw).hexdigest() == sha
        data = db.with_name("store-data")
        assert sorted(p.name for p in (data / "blobs").iterdir()) == sorted(acked.values())
        assert list((data / "tmp").iterdir()) == []  # the cut-off upload left nothing behind
        # and the service goes on accepting
        r = httpx.post(
            f"{base}/api/missions/{mid}/flights", files={"file": ("again.csv", flight_csv.read_bytes())}, headers=h
        )
        assert r.status_code in (200, 201)
    finally:
        _kill(proc)
        log.close()
