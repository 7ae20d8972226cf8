"""What each version was fitted on travels with it: computed at training time from exactly those rows,
written into its manifest entry, registered in model_versions, filled in once for versions registered
before schema 018 when their training data fingerprint proves which rows they were, and shown by `list`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from model_store.data import SOURCE, TrainingData
from model_store.drift_reference import DriftReference, drift_reference
from model_store.errors import ModelError
from model_store.model_card import render_card
from model_store.registration import TRAINING_FACTS, register_version
from tests.model_store.test_cli import run

# What the registration of a version looked like before schema 018: none of its training facts.
PRE_018 = """
INSERT INTO model_versions (model_name, version, artifact_path, sha256, sklearn_version, threshold,
                            metrics, feature_schema, training_data_sha256)
VALUES (%(name)s, %(version)s, %(file)s, %(sha256)s, %(sklearn_version)s, %(threshold)s, '{}', %(schema)s,
        %(training_data_sha256)s)
"""
STORED = """
SELECT training_source, training_rows, training_positives, reference, training_data_sha256
FROM model_versions WHERE model_name = %s AND version = %s
"""


def register_pre_018(conn: psycopg.Connection, entry: dict[str, Any]) -> None:
    conn.execute(PRE_018, {**entry, "schema": json.dumps(entry["feature_schema"])})


def earlier(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as a manifest written before references were stored had it."""
    return {k: v for k, v in entry.items() if k not in TRAINING_FACTS}


def test_every_served_entry_records_the_rows_it_was_fitted_on(
    manifest: dict[str, Any], attrition: TrainingData
) -> None:
    # The served models are fitted on all rows of the training data (the hold-out fits are not served).
    expected = drift_reference(attrition).as_json()
    for name, entry in manifest["models"].items():
        assert entry["training_data_sha256"] == attrition.sha256 == manifest["data"]["sha256"], name
        assert (entry["training_rows"], entry["training_positives"]) == (1470, 237), name
        assert entry["training_source"] == SOURCE
        assert entry["reference"] == expected, name
        stored = DriftReference.from_json(entry["reference"])
        assert stored.training_data_sha256 == entry["training_data_sha256"]


def test_registration_stores_the_reference_with_the_version(
    registered: tuple[str, Path], manifest: dict[str, Any]
) -> None:
    db_url, _ = registered
    with psycopg.connect(db_url) as conn:
        for name, entry in manifest["models"].items():
            stored = conn.execute(STORED, (name, entry["version"])).fetchone()
            assert stored == (SOURCE, 1470, 237, entry["reference"], entry["training_data_sha256"]), name


def test_a_version_registered_before_018_gets_the_packaged_reference_its_fingerprint_proves(
    db_url: str, manifest: dict[str, Any]
) -> None:
    entry = manifest["models"]["logistic"]
    with psycopg.connect(db_url) as conn:
        register_pre_018(conn, entry)
        assert conn.execute(STORED, ("logistic", entry["version"])).fetchone()[:4] == (None,) * 4
        register_version(conn, earlier(entry))  # `python -m model_store` re-registers the old manifest
        stored = conn.execute(STORED, ("logistic", entry["version"])).fetchone()
    assert stored == (SOURCE, 1470, 237, entry["reference"], entry["training_data_sha256"])


def test_retraining_the_same_bytes_fills_in_the_reference_of_the_registered_version(
    db_url: str, manifest: dict[str, Any]
) -> None:
    # Training is deterministic: a retrain after the upgrade gives the registered versions again.
    entry = manifest["models"]["random_forest_e04"]
    with psycopg.connect(db_url) as conn:
        register_pre_018(conn, entry)
        register_version(conn, entry)
        stored = conn.execute(STORED, ("random_forest_e04", entry["version"])).fetchone()
    assert stored[3] == entry["reference"]


def test_other_rows_get_no_reference_and_a_filled_one_is_never_rewritten(
    db_url: str, manifest: dict[str, Any]
) -> None:
    entry = manifest["models"]["logistic"]
    elsewhere = {**earlier(entry), "version": "other-rows", "training_data_sha256": "f" * 64}
    with psycopg.connect(db_url) as conn:
        register_pre_018(conn, elsewhere)
        register_version(conn, elsewhere)  # fitted on rows nobody has here: nothing to compute from
        assert conn.execute(STORED, ("logistic", "other-rows")).fetchone()[:4] == (None,) * 4
        register_version(conn, entry)
        shifted = json.loads(json.dumps(entry["reference"]))
        shifted["features"][0]["shares"] = [1.0] + [0.0] * (len(shifted["features"][0]["shares"]) - 1)
        register_version(conn, {**entry, "reference": shifted})  # same version again: kept as it was
        stored = conn.execute(STORED, ("logistic", entry["version"])).fetchone()
    assert stored[3] == entry["reference"]


def test_a_reference_of_other_rows_than_the_fingerprint_is_refused(
    db_url: str, manifest: dict[str, Any]
) -> None:
    entry = manifest["models"]["logistic"]
    foreign = {**entry["reference"], "training_data_sha256": "e" * 64}
    with psycopg.connect(db_url) as conn:
        with pytest.raises(ModelError, match=r"describes training data e{64}, not its own"):
            register_version(conn, {**entry, "reference": foreign})
        register_version(conn, entry)
        with pytest.raises(psycopg.errors.CheckViolation, match="model_versions_reference_check"):
            conn.execute(
                "UPDATE model_versions SET reference = %s WHERE model_name = 'logistic'",
                (json.dumps(foreign),),
            )  # the database holds the same rule for SQL written by hand


def test_list_shows_what_each_version_was_fitted_on(
    registered: tuple[str, Path], manifest: dict[str, Any]
) -> None:
    db_url, store = registered
    listed = run(["list"], store, db_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == len(manifest["models"])
    fingerprint = manifest["data"]["sha256"][:12]
    assert all(f"data {fingerprint}   1470 rows reference " in line for line in lines), lines


def test_the_model_card_checks_the_fingerprints_and_names_the_reference(manifest: dict[str, Any]) -> None:
    card = render_card(manifest)
    assert "Every served version was fitted on all these rows (its `training_data_sha256` is this" in card
    assert "stores their drift reference: the share of the rows in each of a number's 10 quantile" in card
    stray = {**manifest, "models": {**manifest["models"]}}
    stray["models"]["dummy"] = {**manifest["models"]["dummy"], "training_data_sha256": "0" * 64}
    assert "- Fitted on other rows than these: `dummy`." in render_card(stray)
    old = {**manifest, "models": {n: earlier(e) for n, e in manifest["models"].items()}}
    assert "no drift reference is stored for `dummy`, `logistic`" in render_card(old)
