"""The opdc route's start form: a crisis start needs the schorsing it follows, and a schorsing of more than one day
must have been reported to the Inspectie; the pupil stays enrolled at the home school (the case's school)."""

from __future__ import annotations

import pytest
import yaml

from engine.config import PROJECT_ROOT
from engine.errors import InvalidData
from engine.models import Case, School
from tests.helpers import open_names

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
