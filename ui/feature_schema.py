"""The feature schema served by `GET /metadata/`, read into a form the pages can lay out."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

NUMERIC_TYPES = ("integer", "number")

# The features in an HR analyst's words: the served names are data-set columns in snake_case.
LABELS = {
    "age": "Age",
    "business_travel": "Business travel",
    "daily_rate": "Daily rate",
    "department": "Department",
    "distance_from_home": "Distance from home",
    "education": "Education",
    "education_field": "Field of education",
    "environment_satisfaction": "Satisfaction with the workplace",
    "gender": "Gender",
    "hourly_rate": "Hourly rate",
    "job_involvement": "Job involvement",
    "job_level": "Job level",
    "job_role": "Job role",
    "job_satisfaction": "Job satisfaction",
    "marital_status": "Marital status",
    "monthly_income": "Monthly income",
    "monthly_rate": "Monthly rate",
    "num_companies_worked": "Previous employers",
    "over_time": "Works overtime",
    "percent_salary_hike": "Last pay rise (%)",
    "performance_rating": "Performance rating",
    "relationship_satisfaction": "Satisfaction with colleagues",
    "stock_option_level": "Stock option level",
    "total_working_years": "Years of experience",
    "training_times_last_year": "Trainings last year",
    "work_life_balance": "Work-life balance",
    "years_at_company": "Years at the company",
    "years_in_current_role": "Years in the current role",
    "years_since_last_promotion": "Years since the last promotion",
    "years_with_curr_manager": "Years with the current manager",
}
# Categories whose words are not their spelling with spaces.
OPTION_WORDS = {"Research_Development": "Research & Development", "Non-Travel": "No travel"}


def plain_words(name: str) -> str:
    """'monthly_income' → 'Monthly income': a feature the schema has no label for, in words."""
    return LABELS.get(name) or name.replace("_", " ").strip().capitalize()


def option_text(value: object) -> str:
    """A category as a person reads it: 'Travel_Rarely' → 'Travel rarely', 'Very_High' → 'Very high'."""
    text = str(value)
    if text in OPTION_WORDS:
        return OPTION_WORDS[text]
    first, *rest = text.split("_")
    return " ".join([first, *(word.lower() for word in rest)])


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # integer | number | category
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    default: Any = None

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def label(self) -> str:
        """'years_with_curr_manager' → 'Years with the current manager'."""
        return plain_words(self.name)

    def help_text(self) -> str:
        bits = [self.description.strip()] if self.description else []
        if self.is_numeric and self.minimum is not None and self.maximum is not None:
            bits.append(f"Range {fmt_number(self.minimum)}–{fmt_number(self.maximum)}.")
        if self.categories:
            bits.append("One of: " + ", ".join(option_text(c) for c in self.categories) + ".")
        return " ".join(bits)

    def default_value(self) -> Any:
        """The served default (median or mode) when given; else the middle of the range / first category."""
        if self.type == "category":
            if self.default in self.categories:
                return self.default
            return self.categories[0] if self.categories else ""
        value = self.default
        if value is None:
            if self.minimum is not None and self.maximum is not None:
                value = (self.minimum + self.maximum) / 2
            else:
                value = self.minimum if self.minimum is not None else 0
        value = clamp(float(value), self.minimum, self.maximum)
        return round(value) if self.type == "integer" else float(value)


@dataclass(frozen=True)
class Schema:
    features: tuple[Feature, ...]
    threshold: float  # the default model's decision threshold

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def by_name(self) -> dict[str, Feature]:
        return {f.name: f for f in self.features}

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default_value() for f in self.features}


def parse_metadata(meta: dict[str, Any]) -> Schema:
    """The Schema that GET /metadata/ serves."""
    return Schema(
        features=tuple(_feature(f) for f in meta["feature_schema"]), threshold=float(meta["threshold"])
    )


def _feature(raw: dict[str, Any]) -> Feature:
    """One served feature: range (numbers) or categories, and a typical `default` when the model has one."""
    return Feature(
        name=raw["name"],
        type=raw["type"],
        description=raw.get("description", ""),
        minimum=_bound(raw.get("minimum")),
        maximum=_bound(raw.get("maximum")),
        categories=tuple(raw.get("categories", ())),
        default=raw.get("default"),
    )


def _bound(value: float | None) -> float | None:
    return None if value is None else float(value)


def clamp(value: float, lo: float | None, hi: float | None) -> float:
    if lo is not None:
        value = max(value, lo)
    if hi is not None:
        value = min(value, hi)
    return value


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def snake_case(name: str) -> str:
    """'BusinessTravel' / 'Business Travel' / 'business-travel' → 'business_travel'."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()


def coerce_value(feature: Feature, raw: Any) -> tuple[Any, str | None]:
    """Turn one cell into the value the API expects, or say plainly why it cannot be."""
    text = "" if raw is None else str(raw).strip()
    if text == "" or (isinstance(raw, float) and math.isnan(raw)):
        return None, "is empty"
    if feature.type == "category":
        if text in feature.categories:
            return text, None
        folded = {c.lower(): c for c in feature.categories}
        if text.lower() in folded:
            return folded[text.lower()], None
        return None, f"'{text}' is not a known category (expected one of: {', '.join(feature.categories)})"
    try:
        number = float(text)
    except ValueError:
        return None, f"'{text}' is not a number"
    if not math.isfinite(number):
        return None, f"'{text}' is not a finite number"
    if feature.type == "integer":
        if not number.is_integer():
            return None, f"'{text}' is not a whole number"
        number = int(number)
    if feature.minimum is not None and number < feature.minimum:
        return None, f"{text} is below the minimum {fmt_number(feature.minimum)}"
    if feature.maximum is not None and number > feature.maximum:
        return None, f"{text} is above the maximum {fmt_number(feature.maximum)}"
    return number, None
