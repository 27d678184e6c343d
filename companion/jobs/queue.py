"""The huey instance for a settings object."""

from __future__ import annotations

from pathlib import Path

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey

from companion.settings import JobsSettings


def build_huey(settings: JobsSettings, data_dir: Path) -> Huey:
    """SQLite at `<data_dir>/jobs.db`, Redis at `redis_url`, or in memory (immediate: run in the caller).

    Results are not stored in huey: each job's outcome lives in the `jobs` table."""
    backend = settings.backend
    if backend == "redis":
        return RedisHuey(settings.name, url=settings.redis_url, results=False, utc=True)
    if backend == "sqlite":
        data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(settings.name, filename=str(data_dir / "jobs.db"), results=False, utc=True)
    return MemoryHuey(settings.name, results=False, utc=True, immediate=backend == "immediate")
