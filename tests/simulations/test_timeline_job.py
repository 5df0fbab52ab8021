"""Timeline jobs: the limits of what an analyst may ask for, checked before anything runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from core.errors import ValidationError
from rules.loader import Catalog
from simulations.timeline_job import TimelineParams, timeline_work

AS_OF = date(2026, 6, 30)
EMPTY = Catalog((), {}, {})


@pytest.mark.parametrize(
    ("months", "seeds", "message"),
    [(0, 1, "months must be from 1 to 24, got 0"), (25, 1, "months must be from 1 to 24, got 25"),
     (3, 0, "seeds must be from 1 to 10, got 0"), (3, 11, "seeds must be from 1 to 10, got 11")],
)  # fmt: skip
def test_a_whole_population_run_outside_the_limits_is_refused(
    months: int, seeds: int, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        timeline_work(Path("."), EMPTY, AS_OF, months, seeds, True)


@pytest.mark.parametrize(("months", "seeds"), [(1, 1), (24, 10)])
def test_a_run_at_the_limits_is_accepted(months: int, seeds: int) -> None:
    assert callable(timeline_work(Path("."), EMPTY, AS_OF, months, seeds, True))


@pytest.mark.parametrize(
    ("form", "message"),
    [({"residents": "99"}, "residents must be a whole number from 100 to 100,000, got '99'"),
     ({"seeds": "two"}, "seeds must be a whole number from 1 to 10, got 'two'")],
)  # fmt: skip
def test_a_console_form_outside_the_limits_says_what_is_expected(
    form: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        TimelineParams.parse(form)


def test_an_empty_console_form_takes_the_defaults_without_push() -> None:
    assert TimelineParams.parse({}) == TimelineParams(months=3, residents=2000, seeds=2, push=False)
