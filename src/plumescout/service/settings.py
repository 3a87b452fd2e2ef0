"""Service settings (pydantic): where the store and files live, tokens, map tiles, TAK push."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import BaseModel, Field

from .db import database_url

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseModel):
    db: str = Field("plumescout.db", description="SQLite file path or a SQLAlchemy URL (postgresql+psycopg://...)")
    data_dir: Path | None = Field(None, description="flight blobs and run outputs; default: beside the SQLite file")
    jwt_secret: str | None = Field(None, description="HS256 secret; default: generated once into DATA_DIR/jwt.key")
    jwt_ttl_s: int = Field(3600, ge=60, le=7 * 86400)
    workers: int = Field(1, ge=1, le=64, description="analysis worker processes")
    scheduler: str | None = Field(None, description="a dask.distributed scheduler address instead of local workers")
    signatures: Path | None = Field(None, description="signature library TOML for attribution (default: shipped)")
    tile_url: str | None = Field(None, description="XYZ tile URL template for the dashboard; none: vector outline")
    tile_attribution: str = ""
    tak_url: str | None = Field(None, description="tcp://host:port or tls://host:port of a TAK server to push to")
    tak_tls: dict[str, str] = Field(default_factory=dict, description="pytak TLS settings (PYTAK_TLS_CLIENT_CERT...)")
    threads: int = Field(8, ge=1, le=256, description="request threads (the blocking handlers run in them)")
    max_upload_mb: int = Field(512, ge=1)
    resume_runs: bool = True

    @property
    def url(self) -> str:
        return database_url(self.db)

    @property
    def data_path(self) -> Path:
        if self.data_dir is not None:
            return Path(self.data_dir)
        if "://" not in self.db:
            p = Path(self.db).expanduser().resolve()
            return p.with_name(p.stem + "-data")
        return Path("plumescout-data").resolve()

    def secret(self) -> str:
        if self.jwt_secret:
            return self.jwt_secret
        key = self.data_path / "jwt.key"
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            tmp = key.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            tmp.chmod(0o600)
            tmp.replace(key)
        return key.read_text(encoding="utf-8").strip()
