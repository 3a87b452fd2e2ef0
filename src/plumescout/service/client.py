"""A client of the plumescout service's API, for crews sending logs from the field
(``plumescout upload``): upload flight logs and beam data sets to a mission, start an analysis
of them, follow it, and read its reports.

Every refusal of the service comes back as a :class:`ServiceError` carrying the service's own
message (which names the file, line and field of a malformed log), never a traceback; files
uploaded before a refusal stay uploaded (the service keeps each as soon as it answers).
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from ..errors import PlumescoutError

__all__ = ["ServiceError", "ServiceClient", "beam_archive"]

BEAM_FILES = ("beams.csv", "measurements.csv", "wind.csv")


class ServiceError(PlumescoutError):
    """The service refused a request, or could not be reached."""


def beam_archive(directory: Path) -> bytes:
    """A beam data set's directory (``beams.csv``, ``measurements.csv``, ``wind.csv``, as
    ``plumescout analyze DIR`` reads) as the ZIP the service takes."""
    missing = [n for n in BEAM_FILES if not (directory / n).is_file()]
    if missing:
        raise ServiceError(f"{directory}: not a beam data set (no {', '.join(missing)})")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n in BEAM_FILES:
            z.write(directory / n, n)
    return buf.getvalue()


class _Reading(io.RawIOBase):
    """A file's bytes read in blocks, telling ``advance`` how many went (an upload's progress)."""

    def __init__(self, data: bytes, advance: Callable[[int], None]):
        self._buf, self._advance = io.BytesIO(data), advance

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._buf.seek(offset, whence)

    def tell(self) -> int:
        return self._buf.tell()

    def read(self, size: int = -1) -> bytes:
        block = self._buf.read(min(size, 1 << 16) if size and size > 0 else 1 << 16)
        self._advance(len(block))
        return block


class ServiceClient:
    """The API of a plumescout service at ``base_url`` (``https://host``), as the user of
    ``token`` (an API token or a login's JWT)."""

    def __init__(self, base_url: str, token: str, timeout_s: float = 120.0):
        import httpx

        if not base_url.startswith(("http://", "https://")):
            raise ServiceError(f"the service's address must start with http:// or https://, not {base_url!r}")
        self.base = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, path: str, what: str, **kw):
        import httpx

        try:
            r = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ServiceError(f"{what}: cannot reach the service at {self.base} ({exc})") from None
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            if isinstance(detail, list):  # a request the API's schema refused: the fields named
                detail = "; ".join(f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}" for d in detail)
            if r.status_code == 401:
                detail = f"{detail} (is the token right, and not revoked?)"
            raise ServiceError(f"{what}: the service refused it ({r.status_code}): {detail}")
        return r.json()

    def me(self) -> dict:
        return self._call("GET", "/api/me", "who am I")

    def upload(
        self,
        path: Path,
        mission_id: int,
        origin: str | None = None,
        advance: Callable[[int], None] | None = None,
        archive: bytes | None = None,
    ) -> dict:
        """Upload ``path`` (a flight log, or a beam data set's directory or ZIP with its ``origin``
        'LAT,LON') to mission ``mission_id``: the service's record of the flight (``duplicate``
        true where the same file was there already). ``archive``: a directory's ZIP, where the
        caller already made it (:func:`beam_archive`)."""
        path = Path(path)
        if path.is_dir():
            data, name = archive if archive is not None else beam_archive(path), f"{path.name}.zip"
        else:
            data, name = path.read_bytes(), path.name
        body = _Reading(data, advance or (lambda n: None))
        form = {"origin": origin} if origin else None
        return self._call(
            "POST", f"/api/missions/{mission_id}/flights", str(path), files={"file": (name, body)}, data=form
        )

    def start_run(self, mission_id: int, flight_ids: list[int]) -> dict:
        """Queue the analysis of ``flight_ids`` (one; or the sorties of one survey, together)."""
        body = {"flight_id": flight_ids[0]} if len(flight_ids) == 1 else {"flight_ids": flight_ids}
        return self._call("POST", f"/api/missions/{mission_id}/runs", f"analysing flights {flight_ids}", json=body)

    def run(self, run_id: int) -> dict:
        return self._call("GET", f"/api/runs/{run_id}", f"run {run_id}")

    def report(self, report_id: int) -> dict:
        return self._call("GET", f"/api/reports/{report_id}", f"report {report_id}")

    def wait(
        self, run_id: int, progress: Callable[[dict], None] | None = None, poll_s: float = 1.0, timeout_s: float = 3600
    ) -> dict:
        """The run once it is done or failed, telling ``progress`` of each state read on the way."""
        t0 = time.monotonic()
        while True:
            r = self.run(run_id)
            if progress:
                progress(r)
            if r["state"] in ("done", "failed"):
                return r
            if time.monotonic() - t0 > timeout_s:
                raise ServiceError(f"run {run_id}: not finished after {timeout_s:.0f} s (state {r['state']})")
            time.sleep(poll_s)
