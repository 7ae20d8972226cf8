"""Errors the model store raises; callers catch ModelError to mark a request failed with the reason."""

from __future__ import annotations

from collections.abc import Iterable


class ModelError(Exception):
    """A model cannot answer (base class). `public` is the reason as a client may read it: without the
    server's file paths, which the message (for the logs) names."""

    def __init__(self, message: str, public: str | None = None) -> None:
        super().__init__(message)
        self.public = public or message


class UnknownModel(ModelError, LookupError):
    """No deployed model has that name; the message lists the known ones."""

    def __init__(self, name: str | None, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        listed = ", ".join(self.known) if self.known else "none (run `python -m model_store`)"
        super().__init__(f"model {name!r} not found; known: {listed}")


class ArtifactRejected(ModelError):
    """An artifact file is missing or its bytes do not hash to the sha256 registered in the database."""
