"""Model store: training, artifacts + manifest, registration, the registry and the feature schema.

Entry points: `model_store.registry.open_registry` (listener), `model_store.catalog` (API),
`model_store.features.validate_features` (API), `python -m model_store` (train / register / promote).
"""

from model_store.registration import promote, register_manifest

__all__ = ["promote", "register_manifest"]
