#!/bin/sh
# After `coverage run -m pytest` (make test): combine the data of every process the tests started, write
# the HTML report, print the table, and hold the floor (fail_under in pyproject.toml). Exits with pytest's
# status ($1) when the tests failed, else 2 below the floor, else 0.
PY=${PY:-python}
tests_status=${1:-0}
$PY -m coverage combine --quiet || exit 1
$PY -m coverage html --quiet --fail-under=0 && echo "Coverage: htmlcov/index.html"
$PY -m coverage report
report=$?
if [ $report -eq 2 ]; then
  echo "make test FAILED: total coverage is below the floor (fail_under in pyproject.toml)." \
    "Add behaviour tests for the paths htmlcov/index.html shows in red." >&2
fi
[ "$tests_status" -ne 0 ] && exit "$tests_status"
exit $report
