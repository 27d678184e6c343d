from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from companion.api.deps import ServicesDep
from companion.errors import CompanionError

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database, vector store and embeddings each answer")
def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    probes = {
        "database": services.db.ping,
        "vector_store": services.store.ping,
        "embeddings": lambda: services.embedder.encode(["ready"]),
    }
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except CompanionError as exc:
            checks[name] = exc.message
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
    )
