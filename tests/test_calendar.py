"""The business calendar against dates a case worker can check on a wall calendar.

Every expected date below was worked out by hand from the real calendar and Rijksoverheid's school holidays,
never by running the code.
"""

from datetime import date

import pytest

from engine.calendar import (
    REGIONS,
    UNITS,
    BusinessCalendar,
    CalendarRangeError,
    CalendarRules,
    DayOffEntry,
    load_school_holidays,
)

D = date.fromisoformat


# --- werkdagen ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, amount, expected, why",
    [
        ("2026-12-22", 1, "2026-12-23", "Tue -> Wed"),
        ("2026-12-22", 2, "2026-12-24", "Thu 24 Dec is a normal working day"),
        ("2026-12-22", 3, "2026-12-28", "Fri 25 and Sat 26 Christmas, Sun 27: next is Mon 28"),
        ("2026-12-22", 6, "2026-12-31", "28, 29, 30, 31"),
        ("2026-12-22", 7, "2027-01-04", "Fri 1 Jan Nieuwjaarsdag, weekend: Mon 4 Jan 2027"),
        ("2025-12-23", 2, "2025-12-29", "Christmas 2025 on Thu/Fri, then the weekend"),
        ("2026-04-24", 1, "2026-04-28", "Fri -> weekend -> Mon 27 April Koningsdag -> Tue"),
        ("2026-05-04", 1, "2026-05-06", "5 May is a day off in education every year (Loket's default)"),
        ("2025-05-02", 1, "2025-05-06", "Fri 2 May, weekend, Mon 5 May 2025 off -> Tue 6"),
        ("2026-05-13", 1, "2026-05-15", "Thu 14 May Hemelvaartsdag; the equated Friday after is a werkdag"),
        ("2026-01-01", 1, "2026-01-02", "Fri 2 Jan 2026 is equated for the Atw only: a werkdag"),
        ("2026-03-09", 5, "2026-03-16", "a plain week"),
        ("2029-12-24", 1, "2029-12-27", "beyond the shipped school years werkdagen still work"),
        ("2026-02-21", 0, "2026-02-21", "zero returns the start, even on a Saturday"),
    ],
)
def test_werkdagen(start, amount, expected, why):
    assert BusinessCalendar("midden").add(D(start), amount, "werkdagen") == D(expected), why


@pytest.mark.parametrize(
    "day, expected",
    [
        ("2026-04-27", False),  # Koningsdag, Monday
        ("2025-04-26", False),  # Koningsdag moved to Saturday because 27 April 2025 is a Sunday
        ("2025-04-28", True),  # the Monday after: no "observed" holiday
        ("2026-05-05", False),  # Bevrijdingsdag: a day off in education every year, unless the SWV says otherwise
        ("2025-05-05", False),
        ("2027-05-05", False),
        ("2026-04-03", False),  # Goede Vrijdag: a day off unless the SWV says otherwise
        ("2026-05-15", True),  # equated with a feestdag for legal terms only (Atw art. 3 lid 3)
        ("2026-04-06", False),  # Tweede paasdag
        ("2026-05-25", False),  # Tweede pinksterdag
        ("2026-12-24", True),
        ("2026-12-26", False),
        ("2026-02-16", True),  # school holiday in midden, but a working day
    ],
)
def test_is_workday(day, expected):
    assert BusinessCalendar("midden").is_workday(D(day)) is expected


# --- kalenderdagen, weken and the Algemene termijnenwet ----------------------------------------------------


@pytest.mark.parametrize(
    "start, amount, unit, legal, expected, why",
    [
        ("2026-01-30", 30, "kalenderdagen", False, "2026-03-01", "February 2026 has 28 days"),
        ("2026-09-01", 6, "weken", False, "2026-10-13", "six weeks: same weekday, 42 days on"),
        ("2026-01-10", 6, "weken", False, "2026-02-21", "policy term ending on a Saturday stays there"),
        ("2026-01-10", 6, "weken", True, "2026-02-23", "legal term ending on a Saturday moves to Monday"),
        ("2026-03-24", 6, "weken", False, "2026-05-05", "policy term may end on 5 May"),
        ("2026-03-24", 6, "weken", True, "2026-05-06", "Atw: 5 May is a holiday every year"),
        ("2026-03-16", 6, "weken", True, "2026-04-28", "ends on Koningsdag Mon 27 April -> Tue"),
        ("2025-04-19", 7, "kalenderdagen", True, "2025-04-28", "Sat 26 April 2025 Koningsdag, Sun -> Mon"),
        ("2026-02-20", 6, "weken", True, "2026-04-07", "Goede vrijdag, Easter weekend, Tweede paasdag"),
        ("2026-05-10", 14, "kalenderdagen", True, "2026-05-26", "Whit Sunday and Monday -> Tue"),
        ("2026-12-11", 14, "kalenderdagen", True, "2026-12-28", "Christmas Fri/Sat, Sunday -> Mon"),
        # The finding of the legal review: Hemelvaart Thu 14 May, and Fri 15 May 2026 is equated by the Besluit
        # gelijkstelling (Atw art. 3 lid 3), so the legal term runs to Monday 18 May.
        ("2026-05-07", 1, "weken", True, "2026-05-18", "Hemelvaart Thu 14, equated Fri 15 May -> Mon 18"),
        ("2026-04-02", 6, "weken", True, "2026-05-18", "bezwaartermijn from Thu 2 April 2026: Mon 18 May"),
        ("2026-05-07", 1, "weken", False, "2026-05-14", "a policy term ends on Hemelvaart itself"),
        ("2026-03-02", 6, "weken", True, "2026-04-13", "an ordinary Monday does not move"),
        ("2026-02-21", 0, "werkdagen", True, "2026-02-23", "zero on a Saturday, legal: Monday"),
        ("2028-03-24", 6, "weken", True, "2028-05-08", "Fri 5 May 2028 (no lustrum), weekend -> Mon 8"),
    ],
)
def test_calendar_days_weeks_and_atw(start, amount, unit, legal, expected, why):
    assert BusinessCalendar("noord").add(D(start), amount, unit, legal=legal) == D(expected), why


# --- schooldagen -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "region, start, amount, expected",
    [
        # Voorjaarsvakantie 2025: noord 15-23 Feb, midden and zuid 22 Feb - 2 Mar.
        ("noord", "2025-02-12", 5, "2025-02-26"),
        ("midden", "2025-02-12", 5, "2025-02-19"),
        ("zuid", "2025-02-12", 5, "2025-02-19"),
        # Voorjaarsvakantie 2026: noord 21 Feb - 1 Mar, midden and zuid 14-22 Feb.
        ("noord", "2026-02-09", 5, "2026-02-16"),
        ("midden", "2026-02-09", 5, "2026-02-23"),
        ("zuid", "2026-02-09", 5, "2026-02-23"),
        # Zomervakantie 2026: noord 4 Jul - 16 Aug, zuid 11 Jul - 23 Aug, midden 18 Jul - 30 Aug.
        ("noord", "2026-07-08", 3, "2026-08-19"),
        ("midden", "2026-07-08", 3, "2026-07-13"),
        ("zuid", "2026-07-08", 3, "2026-08-24"),
        # Kerstvakantie 19 Dec 2026 - 3 Jan 2027, the same everywhere.
        ("midden", "2026-12-17", 2, "2027-01-04"),
        # Meivakantie 25 Apr - 3 May 2026; 5 May is no school day by default.
        ("zuid", "2026-04-23", 3, "2026-05-06"),
        ("noord", "2024-09-02", 0, "2024-09-02"),
    ],
)
def test_schooldagen_per_region(region, start, amount, expected):
    assert BusinessCalendar(region).add(D(start), amount, "schooldagen") == D(expected)


def test_extra_days_off_skip_schooldagen_but_not_werkdagen():
    plain = BusinessCalendar("midden")
    swv = BusinessCalendar("midden", {D("2026-03-13"): "Studiedag", D("2026-03-14"): "op een zaterdag"})
    assert plain.add(D("2026-03-09"), 5, "schooldagen") == D("2026-03-16")
    assert swv.add(D("2026-03-09"), 5, "schooldagen") == D("2026-03-17")
    assert swv.add(D("2026-03-09"), 5, "werkdagen") == D("2026-03-16")
    assert swv.is_schoolday(D("2026-03-13")) is False
    assert swv.is_workday(D("2026-03-13")) is True


@pytest.mark.parametrize(
    "region, day, expected",
    [
        ("midden", "2026-02-16", False),  # voorjaarsvakantie midden
        ("noord", "2026-02-16", True),
        ("noord", "2026-02-23", False),  # voorjaarsvakantie noord
        ("midden", "2026-05-05", False),  # 5 May: a day off in education by default
        ("midden", "2026-04-27", False),  # Koningsdag (and meivakantie)
        ("zuid", "2025-12-29", False),  # kerstvakantie
        ("zuid", "2024-08-19", True),  # first school day in zuid after summer 2024
        ("zuid", "2026-10-12", True),  # herfstvakantie zuid 2026 starts 17 Oct
        ("noord", "2026-10-12", False),  # herfstvakantie noord 10-18 Oct 2026
        ("midden", "2026-05-15", True),  # Friday after Hemelvaart: schools decide themselves
    ],
)
def test_is_schoolday(region, day, expected):
    assert BusinessCalendar(region).is_schoolday(D(day)) is expected


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.add(D("2029-03-01"), 5, "schooldagen"),
        lambda c: c.add(D("2024-06-03"), 5, "schooldagen"),
        lambda c: c.add(D("2028-06-01"), 100, "schooldagen"),  # runs past the summer of 2028
        lambda c: c.add(D("2029-03-01"), 0, "schooldagen"),
        lambda c: c.is_schoolday(D("2024-08-20")),  # midden's summer 2024 is not shipped
        lambda c: c.days_off(2024),
        lambda c: c.days_off(2028),
    ],
)
def test_outside_the_shipped_school_years(call):
    with pytest.raises(CalendarRangeError, match="Loket kent de schooljaren 2024-2025 t/m 2027-2028"):
        call(BusinessCalendar("midden"))


def test_range_error_names_the_date():
    with pytest.raises(CalendarRangeError) as caught:
        BusinessCalendar("midden").add(D("2029-03-01"), 5, "schooldagen")
    assert str(caught.value) == (
        "Geen schoolvakanties bekend voor 2029-03-01: Loket kent de schooljaren 2024-2025 t/m 2027-2028."
    )
    with pytest.raises(CalendarRangeError, match="2028-08-21"):  # day after midden's summer 2028
        BusinessCalendar("midden").add(D("2028-06-01"), 100, "schooldagen")
    assert isinstance(caught.value, ValueError)


# --- days_off ----------------------------------------------------------------------------------------------

FEESTDAGEN_2026 = {
    D("2026-01-01"): "Nieuwjaarsdag",
    D("2026-04-03"): "Goede Vrijdag",
    D("2026-04-05"): "Eerste paasdag",
    D("2026-04-06"): "Tweede paasdag",
    D("2026-04-27"): "Koningsdag",
    D("2026-05-05"): "Bevrijdingsdag",
    D("2026-05-14"): "Hemelvaartsdag",
    D("2026-05-24"): "Eerste pinksterdag",
    D("2026-05-25"): "Tweede pinksterdag",
    D("2026-12-25"): "Eerste kerstdag",
    D("2026-12-26"): "Tweede kerstdag",
}


def test_days_off_2026_midden():
    offs = BusinessCalendar("midden", {D("2026-06-12"): "Studiedag"}).days_off(2026)
    assert offs == sorted(offs, key=lambda o: o.date)
    assert {o.date: o.name for o in offs if o.kind == "feestdag"} == FEESTDAGEN_2026
    assert DayOffEntry(D("2026-04-27"), "Koningsdag", "feestdag") in offs
    assert DayOffEntry(D("2026-06-12"), "Studiedag", "vrije dag") in offs
    vacation = {o.date: o.name for o in offs if o.kind == "schoolvakantie"}
    # Kerst 1-4 Jan (4) + voorjaar 14-22 Feb (9) + mei 25 Apr-3 May (9) + zomer 18 Jul-30 Aug (44)
    # + herfst 17-25 Oct (9) + kerst 19-31 Dec (13).
    assert len(vacation) == 88
    assert vacation[D("2026-01-04")] == "Kerstvakantie"
    assert vacation[D("2026-02-14")] == vacation[D("2026-02-22")] == "Voorjaarsvakantie"
    assert D("2026-02-23") not in vacation
    assert vacation[D("2026-04-27")] == "Meivakantie"
    assert vacation[D("2026-07-18")] == vacation[D("2026-08-30")] == "Zomervakantie"
    assert vacation[D("2026-10-17")] == "Herfstvakantie"
    assert vacation[D("2026-12-19")] == "Kerstvakantie"
    # New Year's Day is both a feestdag and a vacation day: both are listed, feestdag first.
    assert offs[:2] == [
        DayOffEntry(D("2026-01-01"), "Nieuwjaarsdag", "feestdag"),
        DayOffEntry(D("2026-01-01"), "Kerstvakantie", "schoolvakantie"),
    ]


def test_days_off_differ_per_region():
    def vacation(region):
        return {o.date for o in BusinessCalendar(region).days_off(2026) if o.kind == "schoolvakantie"}

    assert D("2026-03-01") in vacation("noord") and D("2026-03-01") not in vacation("midden")
    assert D("2026-02-14") in vacation("zuid") and D("2026-02-14") not in vacation("noord")
    assert D("2026-07-04") in vacation("noord") and D("2026-07-04") not in vacation("zuid")


def test_days_off_2025_kings_day_on_saturday_and_liberation_day():
    feestdagen = {o.date: o.name for o in BusinessCalendar("zuid").days_off(2025) if o.kind == "feestdag"}
    assert feestdagen[D("2025-04-26")] == "Koningsdag"
    assert D("2025-04-27") not in feestdagen
    assert feestdagen[D("2025-05-05")] == "Bevrijdingsdag"
    assert FEESTDAGEN_2026[D("2026-05-05")] == "Bevrijdingsdag"  # every year, not only in lustrum years


# --- the data file -----------------------------------------------------------------------------------------


def test_school_holiday_data_is_complete_and_shaped_like_rijksoverheids():
    data = load_school_holidays()
    assert data.bron.startswith("Rijksoverheid, Schoolvakanties ")
    assert data.versie
    assert data.schooljaren == ("2024-2025", "2025-2026", "2026-2027", "2027-2028")
    lengths = {"Kerstvakantie": 16, "Zomervakantie": 44}
    in_order = ["Herfstvakantie", "Kerstvakantie", "Voorjaarsvakantie", "Meivakantie", "Meivakantie (adviesweek)",
                "Zomervakantie"]
    for p in data.periods:
        assert (p.first.weekday(), p.last.weekday()) == (5, 6), p  # Saturday through Sunday
        assert (p.last - p.first).days + 1 == lengths.get(p.name, 9), p
    for schooljaar in data.schooljaren:
        for region in REGIONS:
            names = [p.name for p in data.periods if p.schooljaar == schooljaar and p.region == region]
            assert sorted(names) == sorted(in_order), (schooljaar, region)  # the adviesweek may come first
        for name in ("Kerstvakantie", "Meivakantie", "Meivakantie (adviesweek)"):  # the same nationally
            spans = {(p.first, p.last) for p in data.periods if p.schooljaar == schooljaar and p.name == name}
            assert len(spans) == 1, (schooljaar, name)


@pytest.mark.parametrize(
    "schooljaar, name, region, first, last",
    [
        ("2024-2025", "Herfstvakantie", "midden", "2024-10-26", "2024-11-03"),
        ("2024-2025", "Zomervakantie", "zuid", "2025-07-05", "2025-08-17"),
        ("2025-2026", "Herfstvakantie", "zuid", "2025-10-11", "2025-10-19"),
        ("2026-2027", "Kerstvakantie", "noord", "2026-12-19", "2027-01-03"),
        ("2027-2028", "Kerstvakantie", "zuid", "2027-12-25", "2028-01-09"),
        ("2027-2028", "Zomervakantie", "zuid", "2028-07-22", "2028-09-03"),
    ],
)
def test_published_dates(schooljaar, name, region, first, last):
    (period,) = [
        p
        for p in load_school_holidays().periods
        if (p.schooljaar, p.name, p.region) == (schooljaar, name, region)
    ]
    assert (period.first, period.last) == (D(first), D(last))


# --- input errors and caching ------------------------------------------------------------------------------


def test_unknown_unit_region_and_negative_amounts():
    with pytest.raises(ValueError, match="kalenderdagen, werkdagen, schooldagen, weken"):
        BusinessCalendar("midden").add(D("2026-03-02"), 1, "dagen")
    with pytest.raises(ValueError, match="noord, midden, zuid"):
        BusinessCalendar("oost")
    with pytest.raises(ValueError):
        BusinessCalendar("midden").add(D("2026-03-02"), -1, "werkdagen")
    assert UNITS == ("kalenderdagen", "werkdagen", "schooldagen", "weken")


def test_a_years_days_are_worked_out_once_not_per_count(monkeypatch):
    """Every action counts several terms, so a count looks the year up instead of listing its days again.
    How long a count takes is bench/business_calendar.py's figure: tests never assert on time."""
    import engine.calendar as module
    import engine.legal_days as legal

    built = []  # every year whose days were listed
    days_of = module._days_of
    monkeypatch.setattr(module, "_days_of", lambda year: built.append(year) or days_of(year))
    for table in (legal.statutory_days, legal.equated_days, legal.atw_days, module._days_off_by_law,
                  module._workdays, module._vacation_days, module._schooldays):
        table.cache_clear()  # start cold, so the warm-up below must build the tables
    rules = CalendarRules(may5_off=False, advisory=frozenset({("meivakantie-week2", True)}))

    def counts() -> tuple[date, date]:
        calendar = BusinessCalendar("zuid", {D("2026-03-13"): "Studiedag"}, rules)  # made anew, as per action
        return (calendar.add(D("2026-03-02"), 30, "werkdagen", legal=True),
                calendar.add(D("2026-03-02"), 30, "schooldagen"))

    first = counts()
    assert built  # the warm-up worked 2026 out
    built.clear()
    for _ in range(1_000):
        assert counts() == first
    assert built == []
