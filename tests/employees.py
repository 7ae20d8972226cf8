"""The one valid employee of the tests (the packaged data set's first row), whole or with changes."""

from __future__ import annotations

from typing import Any

EMPLOYEE: dict[str, Any] = {
    "age": 41,
    "business_travel": "Travel_Rarely",
    "daily_rate": 1102,
    "department": "Sales",
    "distance_from_home": 1,
    "education": "College",
    "education_field": "Life_Sciences",
    "environment_satisfaction": "Medium",
    "gender": "Female",
    "hourly_rate": 94,
    "job_involvement": "High",
    "job_level": 2,
    "job_role": "Sales_Executive",
    "job_satisfaction": "Very_High",
    "marital_status": "Single",
    "monthly_income": 5993,
    "monthly_rate": 19479,
    "num_companies_worked": 8,
    "over_time": "Yes",
    "percent_salary_hike": 11,
    "performance_rating": "Excellent",
    "relationship_satisfaction": "Low",
    "stock_option_level": 0,
    "total_working_years": 8,
    "training_times_last_year": 0,
    "work_life_balance": "Bad",
    "years_at_company": 6,
    "years_in_current_role": 4,
    "years_since_last_promotion": 0,
    "years_with_curr_manager": 5,
}


def employee(**changes: Any) -> dict[str, Any]:
    """A valid feature set (the data set's first row), with `changes` applied."""
    return {**EMPLOYEE, **changes}
