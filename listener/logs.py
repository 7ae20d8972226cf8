"""Log format of the listener processes (stderr; one line per event, never one per request)."""

from __future__ import annotations

import logging

from listener.config import ListenerSettings


def configure_logging() -> None:
    logging.basicConfig(
        level=ListenerSettings().log_level,
        format="%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s",
    )
