"""The drift reference of each feature (computed from a version's training rows), and the population
stability index against it."""

from __future__ import annotations

import json
import math

import pytest

from model_store.data import TrainingData
from model_store.drift_reference import (
    MIN_SAMPLE,
    SHARE_FLOOR,
    DriftReference,
    FeatureReference,
    drift_reference,
    feature_drift,
    psi,
    reference_from,
)
from model_store.features import FEATURES


def rows_of(attrition: TrainingData, n: int, seed: int = 0) -> list[dict]:
    return json.loads(attrition.X.sample(n, random_state=seed).to_json(orient="records"))


@pytest.fixture(scope="module")
def training(attrition: TrainingData) -> tuple[FeatureReference, ...]:
    """The reference of the packaged data: what the served versions were fitted on."""
    return reference_from(attrition.X)


def test_the_reference_covers_every_feature_and_shares_sum_to_one(
    training: tuple[FeatureReference, ...],
) -> None:
    reference = training
    assert [r.name for r in reference] == [f.name for f in FEATURES]
    for ref, feature in zip(reference, FEATURES, strict=True):
        assert math.isclose(sum(ref.shares), 1.0), ref.name
        if feature.type == "category":
            assert ref.categories == feature.categories and not ref.edges
        else:
            assert len(ref.shares) == len(ref.edges) + 1 <= 11
    daily = next(r for r in reference if r.name == "daily_rate")
    assert all(abs(s - 0.1) < 0.005 for s in daily.shares), "a continuous feature gets ten equal bins"
    levels = next(r for r in reference if r.name == "stock_option_level")
    assert len(levels.edges) <= 3, "ties merge the quantile bins of a feature with four values"


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    small, large = psi([0.5, 0.5], [0.55, 0.45]), psi([0.5, 0.5], [0.9, 0.1])
    assert 0 < small < 0.1 < 0.25 < large
    floored = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - SHARE_FLOOR) * math.log(0.1 / SHARE_FLOOR)
    assert psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1]) == pytest.approx(floored), "an empty bin is floored"
    with pytest.raises(ValueError, match="expected 2 shares, got 3"):
        psi([0.5, 0.5], [0.2, 0.3, 0.5])


def test_a_sample_of_the_training_data_does_not_drift(
    attrition: TrainingData, training: tuple[FeatureReference, ...]
) -> None:
    drift = feature_drift(rows_of(attrition, 1000), training)
    values = [d.psi for d in drift]
    assert values == sorted(values, reverse=True), "worst first"
    assert max(values) < 0.05


def test_a_shifted_sample_drifts_on_the_shifted_features_only(
    attrition: TrainingData, training: tuple[FeatureReference, ...]
) -> None:
    rows = [{**r, "over_time": "Yes", "monthly_income": min(r["monthly_income"] * 3, 20000)}
            for r in rows_of(attrition, 1000)]  # fmt: skip
    drift = feature_drift(rows, training)
    assert [d.name for d in drift[:2]] == ["over_time", "monthly_income"]
    assert drift[0].psi > 1.0 and drift[1].psi > 0.25
    assert all(d.psi < 0.05 for d in drift[2:])


def test_below_the_minimum_sample_psi_is_unknown(
    attrition: TrainingData, training: tuple[FeatureReference, ...]
) -> None:
    drift = feature_drift(rows_of(attrition, MIN_SAMPLE - 1), training)
    assert len(drift) == len(FEATURES) and {d.psi for d in drift} == {None}
    assert [d.name for d in drift] == [f.name for f in FEATURES], "unknowns keep the schema order"


def test_values_of_the_wrong_kind_count_nowhere(attrition: TrainingData) -> None:
    reference = reference_from(attrition.X)
    age = next(r for r in reference if r.name == "age")
    assert age.counts([30, "thirty", None, True, float("nan"), 80.0]).sum() == 2
    travel = next(r for r in reference if r.name == "business_travel")
    assert travel.counts(["Travel_Rarely", "Sometimes", 3]).tolist() == [0, 1, 0]


def test_the_stored_document_reads_back_as_the_same_reference(attrition: TrainingData) -> None:
    reference = drift_reference(attrition)
    stored = json.loads(json.dumps(reference.as_json()))  # what jsonb and the manifest hold
    assert DriftReference.from_json(stored) == reference
    assert stored["training_data_sha256"] == attrition.sha256 and stored["quantile_bins"] == 10
    with pytest.raises(ValueError, match="drift reference format 2, this code reads 1"):
        DriftReference.from_json({**stored, "format": 2})
