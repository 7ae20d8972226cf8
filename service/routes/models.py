"""/models: the deployed models, as the model catalog knows them (no artifact is loaded here)."""

from __future__ import annotations

from fastapi import APIRouter

from model_store.catalog import DeployedModel
from service.repository.availability import Unavailable, unavailable_models
from service.schemas import ModelInfo, error_responses
from service.services import Services, ServicesDep

router = APIRouter(prefix="/models", tags=["models"])


def info(model: DeployedModel, unavailable: Unavailable | None = None) -> ModelInfo:
    return ModelInfo(
        name=model.name,
        version=model.version,
        default=model.default,
        metrics=model.metrics,
        threshold=model.threshold,
        sha256=model.sha256,
        available=unavailable is None,
        unavailable_reason=None if unavailable is None else unavailable.reason,
    )


async def _unavailable(svc: Services) -> dict[str, Unavailable]:
    return await unavailable_models(svc.pool, svc.settings.api_listener_alive_seconds)


@router.get("/", response_model=list[ModelInfo], responses=error_responses(503))
async def list_models(svc: ServicesDep) -> list[ModelInfo]:
    """Every deployed model: version answering, default flag, held-out metrics, threshold, and whether
    the listeners can answer with it."""
    models = await svc.catalog.models()
    unavailable = await _unavailable(svc)
    return [info(m, unavailable.get(m.name)) for m in models]


@router.get("/{name}", response_model=ModelInfo, responses=error_responses(404, 503))
async def get_model(name: str, svc: ServicesDep) -> ModelInfo:
    """One deployed model; 404 lists the known names."""
    model = await svc.catalog.resolve(name)
    return info(model, (await _unavailable(svc)).get(model.name))
