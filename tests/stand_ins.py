"""The stand-in models (model_store/stand_ins.py) in tests, through the seams production uses: deployed in
a database with their artifacts in a model store directory, an API or listener process serves them as it
serves trained models (MODEL_STORE_DIR); an app in process is handed their list instead (tests/api)."""

from __future__ import annotations

from pathlib import Path

from model_store import register_manifest


def serving(store: Path) -> dict[str, str]:
    """The environment of a process serving the models of `store`, once they are deployed in its database."""
    return {"ENV": "dev", "MODEL_STORE_DIR": str(store)}


def deploy_stand_ins(db_url: str, store: Path) -> dict[str, str]:
    """Register and deploy the stand-in store (the `stand_in_store` fixture) in db_url: the environment
    of a process that serves them."""
    register_manifest(db_url, store)
    return serving(store)
