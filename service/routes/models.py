"""/models: the deployed models, as the model catalog knows them (no artifact is loaded here)."""

from __future__ import annotations

from fastapi import APIRouter

from model_store.catalog import DeployedModel
from service.schemas import ModelInfo, error_responses
from service.services import ServicesDep

router = APIRouter(prefix="/models", tags=["models"])


def info(model: DeployedModel) -> ModelInfo:
    return ModelInfo(
        name=model.name,
        version=model.version,
        default=model.default,
        metrics=model.metrics,
        threshold=model.threshold,
        sha256=model.sha256,
    )


@router.get("/", response_model=list[ModelInfo], responses=error_responses(503))
async def list_models(svc: ServicesDep) -> list[ModelInfo]:
    """Every deployed model: version answering, default flag, held-out metrics, threshold."""
    return [info(m) for m in await svc.catalog.models()]


@router.get("/{name}", response_model=ModelInfo, responses=error_responses(404, 503))
async def get_model(name: str, svc: ServicesDep) -> ModelInfo:
    """One deployed model; 404 lists the known names."""
    return info(await svc.catalog.resolve(name))
