"""The artifact store on disk: joblib files named by content, and manifest.json describing them."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def version_for(sha256: str) -> str:
    """An artifact's version: the first 12 hex digits of its sha256, so equal bytes give equal versions."""
    return sha256[:12]


def artifact_file(name: str, version: str) -> str:
    """File name of one artifact, relative to the store directory."""
    return f"{name}-{version}.joblib"


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to `path` through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_manifest(store_dir: Path, manifest: dict[str, Any], name: str = MANIFEST) -> Path:
    """Write manifest.json (or `name`; indented, keys in insertion order) into the store directory."""
    path = store_dir / name
    write_atomic(path, (json.dumps(manifest, indent=2) + "\n").encode())
    return path


def read_manifest(store_dir: Path, name: str = MANIFEST) -> dict[str, Any]:
    """Read manifest.json (or `name`); FileNotFoundError names the directory when there is none."""
    path = store_dir / name
    if not path.is_file():
        raise FileNotFoundError(f"no {name} in {store_dir}; train with `python -m model_store`")
    return json.loads(path.read_text())


def artifacts_present(store_dir: Path) -> bool:
    """True when the manifest and every artifact file it lists exist."""
    try:
        manifest = read_manifest(store_dir)
    except (FileNotFoundError, ValueError):
        return False
    return all((store_dir / m["file"]).is_file() for m in manifest.get("models", {}).values())
