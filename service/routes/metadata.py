"""/metadata: what a client needs to build a valid request and read the answer."""

from __future__ import annotations

from fastapi import APIRouter

from service.schemas import Metadata, error_responses
from service.services import ServicesDep

router = APIRouter(prefix="/metadata", tags=["models"])


@router.get("/", response_model=Metadata, responses=error_responses(503))
async def metadata(svc: ServicesDep) -> Metadata:
    """Feature schema (names, types, ranges, categories), target, the default model's threshold, dataset."""
    meta = await svc.catalog.metadata()
    return Metadata(
        feature_schema=meta["features"],
        target=meta["target"],
        threshold=meta["threshold"],
        default_model=meta["model_name"],
        version=meta["version"],
        dataset=await svc.catalog.dataset(),
    )
