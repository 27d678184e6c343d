from __future__ import annotations

from fastapi import APIRouter

from companion.api.deps import CurrentUser, ServicesDep
from companion.knowledge.schemas import SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", summary="Hybrid search over the guides; every result carries its citation")
def search(body: SearchRequest, services: ServicesDep, _user: CurrentUser) -> SearchResponse:
    results = services.retriever.retrieve(query=body.query, k=body.k, filters=body.filters)
    return SearchResponse(query=body.query, results=results)
