"""The opdc route's start form: a crisis start needs the schorsing it follows, and a schorsing of more than one day
must have been reported to the Inspectie; the pupil stays enrolled at the home school (the case's school); the
evaluations come on the timer until the placement's weeks are over, and the history replays."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from engine import clock
from engine.config import PROJECT_ROOT
from engine.errors import InvalidData
from engine.models import Case, School
from engine.scheduler import fire_due
from tests.helpers import do, open_names, replayed

DATA = yaml.safe_load((PROJECT_ROOT / "processes" / "scenarios" / "opdc" / "_data.yaml").read_text())


def test_a_crisis_start_asks_for_the_schorsing(runtime, world):
    without = {key: value for key, value in DATA["crisis_start"].items() if key != "schorsing"}
    with pytest.raises(InvalidData) as refused:
        runtime.start_case(world["school"], "opdc", without)
    assert "schorsing" in str(refused.value.details)


def test_a_schorsing_of_more_than_a_day_must_have_been_reported(runtime, world):
    data = yaml.safe_load(yaml.safe_dump(DATA["crisis_start"]))
    data["schorsing"]["gemeld_inspectie"] = False
    with pytest.raises(InvalidData) as refused:
        runtime.start_case(world["school"], "opdc", data)
    assert refused.value.details == {"schorsing.gemeld_inspectie": ["Moet ja zijn."]}
    data["schorsing"]["schooldagen"] = 1  # one day: no report needed
    case = runtime.start_case(world["school"], "opdc", data)
    assert open_names(runtime, case.id) == ["crisisplaatsing"]  # no aanvraag, no overleg first


def test_the_pupil_stays_enrolled_at_the_home_school(runtime, world):
    case = runtime.start_case(world["school"], "opdc", DATA["start"])
    with runtime.db.read() as session:
        school = session.get(School, session.get(Case, case.id).school_id)
    assert school.code == "16PX00" and open_names(runtime, case.id) == ["aanmelding"]


def test_a_crisis_placement_runs_its_evaluations_on_the_timer_and_replays(runtime, world):
    with clock.frozen(datetime(2027, 1, 11, 8, tzinfo=UTC)):
        case = runtime.start_case(world["school"], "opdc", DATA["crisis_start"])
        do(runtime, world, "consulent", case.id, "crisisplaatsing", DATA["crisis"])  # 4 weeks, evaluated every 2
    for moment in (datetime(2027, 1, 26, 8, tzinfo=UTC), datetime(2027, 2, 10, 8, tzinfo=UTC)):
        with clock.frozen(moment):  # each evaluation's timer (weken(2)) has fired by then
            fire_due(runtime)
            assert open_names(runtime, case.id) == ["evaluatie"]
            do(runtime, world, "consulent", case.id, "evaluatie", {"datum": "2027-01-26", "verslag": "Gaat goed.",
                                                                    "vervolg": "doorgaan"})
    assert open_names(runtime, case.id) == ["afsluiting"]  # 2 x 2 weeks: the placement's four weeks are over
    do(runtime, world, "consulent", case.id, "afsluiting", DATA["terugkeer"])
    with runtime.db.read() as session:
        assert session.get(Case, case.id).outcome == "terugkeer"
    result = replayed(runtime, case.id)
    assert result.consistent, result.divergence

