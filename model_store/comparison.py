"""A shadow challenger against the answers the clients got, on the same requests: the figures come from
the database (sql/queries/shadows.sql compare_challenger); only the normal tail of DeLong's z is taken here.
`live_gate` is the promotion gate on that evidence (`promote --require-live-evidence`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sql.named_queries import QUERIES

TEST_NAME = "DeLong paired test of two correlated ROC-AUCs (two-sided)"
DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class Window:
    """Requests submitted in [since, until)."""

    since: datetime
    until: datetime

    @classmethod
    def last_days(cls, days: int, until: datetime | None = None) -> Window:
        until = until or datetime.now(UTC)
        return cls(until - timedelta(days=days), until)


def two_sided_p(z: float | None) -> float | None:
    """P(|Z| >= |z|) for a standard normal Z."""
    return None if z is None else math.erfc(abs(z) / math.sqrt(2.0))


def params(challenger: str, version: str | None, window: Window) -> dict[str, Any]:
    return {"challenger": challenger, "version": version, "since": window.since, "until": window.until}


def shape(
    challenger: str, window: Window, row: dict[str, Any], primaries: list[dict[str, Any]]
) -> dict[str, Any]:
    """The comparison as GET /models/compare answers it (pure: from the two queries' rows)."""
    figures = {k: row[k] for k in row if k not in ("difference_variance", "z")}
    z = row["z"]
    figures.update(
        challenger=challenger,
        since=window.since,
        until=window.until,
        primary_versions=primaries,
        roc_auc_difference_se=None
        if row["difference_variance"] is None
        else math.sqrt(row["difference_variance"]),
        z=z,
        p_value=two_sided_p(z),
        test=TEST_NAME,
    )
    if row["difference_variance"] == 0 and row["roc_auc_difference"] == 0:
        figures["p_value"] = 1.0  # identical rankings on every labelled pair
    return figures


def compare(
    conn: psycopg.Connection[Any], challenger: str, window: Window, version: str | None = None
) -> dict[str, Any]:
    """The comparison of `challenger` over `window`, through a sync connection."""
    p = params(challenger, version, window)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(QUERIES["compare_challenger"], p).fetchone()
        primaries = cur.execute(QUERIES["compare_primaries"], p).fetchall()
    assert row is not None
    return shape(challenger, window, row, primaries)


@dataclass(frozen=True)
class Verdict:
    """What the live-evidence gate decided, and why, in words a release note can quote."""

    passed: bool
    reason: str
    min_labelled: int
    alpha: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def live_gate(figures: dict[str, Any], min_labelled: int, alpha: float = DEFAULT_ALPHA) -> Verdict:
    """Pass only with enough labelled pairs of both classes and a challenger ROC-AUC significantly higher."""
    name, labelled, positives = figures["challenger"], figures["labelled"], figures["positives"]

    def verdict(passed: bool, reason: str) -> Verdict:
        return Verdict(passed, reason, min_labelled, alpha)

    if figures["paired"] == 0:
        return verdict(False, f"{name} has no answer in the shadow of the default yet: shadow it first")
    if labelled < min_labelled or positives == 0 or positives == labelled:
        return verdict(
            False,
            f"only {labelled} labelled pair(s) ({positives} left): at least {min_labelled} with both "
            "outcomes are needed (POST /outcomes)",
        )
    auc_c, auc_p, p_value = figures["challenger_roc_auc"], figures["primary_roc_auc"], figures["p_value"]
    summary = f"ROC-AUC {auc_c:.3f} vs {auc_p:.3f} on {labelled} labelled pairs"
    if auc_c <= auc_p:
        return verdict(False, f"{name} is not better than the default: {summary}")
    if p_value is None or p_value >= alpha:
        shown = "n/a" if p_value is None else f"{p_value:.3g}"
        return verdict(False, f"{name} is better but not significantly: {summary}, p = {shown} >= {alpha:g}")
    return verdict(True, f"{name} is significantly better: {summary}, p = {p_value:.3g} < {alpha:g}")


def evidence(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as JSON for the audit trail (timestamps as ISO text)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in figures.items()}
