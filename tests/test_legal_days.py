"""The days the law knows, against the dates a lawyer works out by hand (Algemene termijnenwet art. 1 and 3 and
the Besluiten gelijkstelling), and the SWV's own rules for werkdagen and schooldagen beside them.

Every expected date was worked out on a wall calendar; ../shared/docs/legal-review.md 2.3 lists most of them.
"""

from datetime import date, timedelta

import pytest

import engine.calendar
import engine.legal_days
from engine.calendar import BusinessCalendar, CalendarRangeError, CalendarRules, covered_until
from engine.legal_days import atw_end, atw_shift, load_legal_days, statutory_days
from engine.legal_days import covered_until as legal_covered_until

D = date.fromisoformat
WERKDAG_5_MEI = CalendarRules(may5_off=False)
WERKDAG_GOEDE_VRIJDAG = CalendarRules(good_friday_off=False)
ADVIESWEEK = CalendarRules(advisory=frozenset({("meivakantie-week2", True)}))


# --- the end of a legal term: Atw art. 1 with art. 3 lid 1, 2 and 3 -----------------------------------------


@pytest.mark.parametrize(
    "raw_end, expected, why",
    [
        # The royal-decree (equated) days of 2026-2028, each a Friday after a feestdag.
        ("2026-01-02", "2026-01-05", "Fri 2 Jan 2026 equated (after Nieuwjaarsdag on Thu) -> Mon 5"),
        ("2026-05-15", "2026-05-18", "Fri 15 May 2026 equated (after Hemelvaart) -> Mon 18"),
        ("2026-05-14", "2026-05-18", "Hemelvaart Thu 14 May, equated Fri, weekend -> Mon 18"),
        ("2027-05-05", "2027-05-10", "Wed 5 May 2027, Hemelvaart Thu 6, equated Fri 7 -> Mon 10"),
        ("2027-05-07", "2027-05-10", "Fri 7 May 2027 equated -> Mon 10"),
        ("2028-04-27", "2028-05-01", "Koningsdag Thu 27 April 2028, equated Fri 28 -> Mon 1 May"),
        ("2028-04-28", "2028-05-01", "Fri 28 April 2028 equated -> Mon 1 May"),
        ("2028-05-26", "2028-05-29", "Fri 26 May 2028 equated (after Hemelvaart 25 May) -> Mon 29"),
        # The previous besluit (2023-2025), as far as Loket's data reaches back.
        ("2024-12-27", "2024-12-30", "Fri 27 Dec 2024 equated -> Mon 30"),
        ("2025-05-30", "2025-06-02", "Fri 30 May 2025 equated -> Mon 2 June"),
        # 5 May every year (art. 3 lid 1), not only in lustrum years.
        ("2026-05-05", "2026-05-06", "Tue 5 May 2026 -> Wed 6"),
        ("2028-05-05", "2028-05-08", "Fri 5 May 2028, weekend -> Mon 8"),
        # Goede Vrijdag (art. 3 lid 2), Easter weekend, Tweede paasdag.
        ("2026-04-03", "2026-04-07", "Goede Vrijdag 3 April 2026 -> Tue 7 April"),
        ("2027-03-26", "2027-03-30", "Goede Vrijdag 26 March 2027 -> Tue 30 March"),
        # Koningsdag with its Sunday rule.
        ("2027-04-27", "2027-04-28", "Koningsdag Tue 27 April 2027 -> Wed 28"),
        ("2025-04-26", "2025-04-28", "27 April 2025 is a Sunday: Koningsdag Sat 26, Sun -> Mon 28"),
        # Christmas on a weekday and on a weekend: no day in lieu, the weekend itself moves the end.
        ("2026-12-25", "2026-12-28", "Christmas Fri/Sat 2026, Sunday -> Mon 28"),
        ("2027-12-25", "2027-12-27", "Christmas Sat/Sun 2027 -> Mon 27"),
        ("2027-12-24", "2027-12-24", "Fri 24 Dec 2027 is no feestdag"),
        ("2026-05-08", "2026-05-08", "an ordinary Friday stays"),
    ],
)
def test_atw_shift(raw_end, expected, why):
    assert atw_shift(D(raw_end)) == D(expected), why


def test_an_objection_filed_on_monday_18_may_2026_is_in_time():
    """The legal review's example: a TLV made known on Thu 2 April 2026; six weeks end on Hemelvaart, the
    equated Friday follows, so the bezwaartermijn ends on Monday 18 May, whatever the SWV's own rules."""
    for rules in (None, WERKDAG_5_MEI, WERKDAG_GOEDE_VRIJDAG):
        calendar = BusinessCalendar("midden", rules=rules)
        assert calendar.add(D("2026-04-02"), 6, "weken", legal=True) == D("2026-05-18")
        assert calendar.add(D("2026-04-02"), 6, "weken") == D("2026-05-14")  # policy: no shift


def test_5_may_and_goede_vrijdag_always_end_no_legal_term_whatever_the_swv_says():
    may5_werkdag = BusinessCalendar("zuid", rules=WERKDAG_5_MEI)
    assert may5_werkdag.is_workday(D("2026-05-05")) is True  # the SWV's working-day rule ...
    assert may5_werkdag.add(D("2026-03-24"), 6, "weken", legal=True) == D("2026-05-06")  # ... not the Atw's
    friday_werkdag = BusinessCalendar("zuid", rules=WERKDAG_GOEDE_VRIJDAG)
    assert friday_werkdag.is_workday(D("2027-03-26")) is True
    assert friday_werkdag.add(D("2027-02-12"), 6, "weken", legal=True) == D("2027-03-30")


# --- Atw art. 2: a term of three days or more holds at least two ordinary days ------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "unit", "plain", "legal", "why"),
    [
        ("2026-04-02", 3, "kalenderdagen", "2026-04-05", "2026-04-08",
         "Thu before Easter: Goede Vrijdag, Sat, Easter Sunday; art. 1 gives Tue 7 (after Tweede paasdag), the "
         "only ordinary day; art. 2 adds Wed 8"),
        ("2026-05-13", 3, "kalenderdagen", "2026-05-16", "2026-05-19",
         "Wed before Hemelvaart: Hemelvaart, the equated Fri 15 May, Sat; Mon 18 is one ordinary day, Tue 19 two"),
        ("2027-05-05", 3, "kalenderdagen", "2027-05-08", "2027-05-11",
         "5 May 2027: Hemelvaart Thu 6, equated Fri 7, Sat; Mon 10 and Tue 11"),
        ("2026-12-24", 3, "kalenderdagen", "2026-12-27", "2026-12-29",
         "Christmas Eve 2026: Christmas Fri 25, Sat, Sun; Mon 28 (art. 1) and Tue 29 (art. 2)"),
        ("2026-12-23", 3, "kalenderdagen", "2026-12-26", "2026-12-28",
         "Wed 23 Dec: Thu 24 is ordinary; art. 1 moves Sat 26 to Mon 28, the second: art. 2 adds nothing"),
        ("2026-04-02", 2, "kalenderdagen", "2026-04-04", "2026-04-07",
         "a two-day term: art. 2 does not apply, art. 1 alone gives Tue 7 April"),
        ("2026-04-02", 6, "weken", "2026-05-14", "2026-05-18", "six weeks hold many ordinary days: art. 1 only"),
        ("2026-04-02", 3, "werkdagen", "2026-04-09", "2026-04-09",
         "werkdagen(3) counts Tue 7, Wed 8, Thu 9: two ordinary days and more"),
    ],
)
def test_atw_article_2(start, amount, unit, plain, legal, why):
    calendar = BusinessCalendar("midden")
    assert calendar.add(D(start), amount, unit) == D(plain), why
    assert calendar.add(D(start), amount, unit, legal=True) == D(legal), why


def test_atw_article_2_for_a_term_given_by_its_dates():
    # A term of 4 days from Wednesday 31 December 2025: Nieuwjaarsdag, the equated Fri 2 January 2026, Sat, Sun;
    # art. 1 gives Mon 5 January, one ordinary day; art. 2 gives Tue 6 January.
    assert atw_shift(D("2026-01-04")) == D("2026-01-05")
    assert atw_end(D("2025-12-31"), D("2026-01-04")) == D("2026-01-06")
    assert atw_end(D("2025-12-31"), D("2026-01-04"), length=2) == D("2026-01-05")  # a shorter term as set


def test_legal_terms_beyond_the_known_besluiten_are_refused_not_guessed():
    with pytest.raises(CalendarRangeError) as caught:
        BusinessCalendar("noord").add(D("2031-03-24"), 6, "weken", legal=True)
    assert "2031" in str(caught.value) and "t/m 2028" in str(caught.value)
    assert "engine/data/feestdagen.json" in str(caught.value)


# --- werkdagen and schooldagen: the SWV's rules ------------------------------------------------------------


@pytest.mark.parametrize(
    "rules, start, unit, amount, expected, why",
    [
        (None, "2026-05-04", "werkdagen", 1, "2026-05-06", "default: 5 May off"),
        (WERKDAG_5_MEI, "2026-05-04", "werkdagen", 1, "2026-05-05", "this SWV works on 5 May"),
        (None, "2026-04-02", "werkdagen", 1, "2026-04-07", "Goede Vrijdag and Tweede paasdag off"),
        (WERKDAG_GOEDE_VRIJDAG, "2026-04-02", "werkdagen", 1, "2026-04-03", "this SWV works on Goede Vrijdag"),
        (None, "2027-05-04", "schooldagen", 1, "2027-05-07", "5 May off, Hemelvaart 6; equated Fri 7 is a school day"),
        (ADVIESWEEK, "2027-05-04", "schooldagen", 1, "2027-05-10", "with the adviesweek 1-9 May 2027: Mon 10"),
        (WERKDAG_5_MEI, "2027-05-04", "schooldagen", 1, "2027-05-05", "5 May a school day for this SWV"),
        (None, "2026-12-23", "werkdagen", 1, "2026-12-24", "Christmas Eve is a werkdag"),
        (None, "2027-12-23", "werkdagen", 2, "2027-12-27", "Fri 24, Christmas on the weekend, no day in lieu: Mon 27"),
    ],
)
def test_swv_rules_for_werkdagen_and_schooldagen(rules, start, unit, amount, expected, why):
    calendar = BusinessCalendar("midden", rules=rules)
    assert calendar.add(D(start), amount, unit) == D(expected), why


def test_equated_days_are_werkdagen_and_are_listed_for_legal_terms_only():
    calendar = BusinessCalendar("midden")
    assert calendar.is_workday(D("2026-01-02")) and calendar.is_workday(D("2026-05-15"))
    assert (D("2026-05-15"), "Gelijkgestelde dag (vrijdag na Hemelvaartsdag)") in calendar.legal_only(2026)
    assert D("2026-05-05") not in dict(calendar.legal_only(2026))  # already a day off here
    assert D("2026-05-05") in dict(BusinessCalendar("midden", rules=WERKDAG_5_MEI).legal_only(2026))


# --- the data: Loket's own, complete, consistent, and not about to run out ---------------------------------


def _easter(year: int) -> date:
    """Gregorian Easter (the anonymous algorithm), to check the shipped list by a second route."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def test_the_statutory_list_matches_article_3_in_every_shipped_year():
    first, last = load_legal_days().statutory_years
    assert (first, last) == (2024, 2035)
    for year in range(first, last + 1):
        easter = _easter(year)
        kings_day = date(year, 4, 26) if date(year, 4, 27).weekday() == 6 else date(year, 4, 27)
        expected = {
            date(year, 1, 1): "Nieuwjaarsdag", easter - timedelta(2): "Goede Vrijdag", easter: "Eerste paasdag",
            easter + timedelta(1): "Tweede paasdag", kings_day: "Koningsdag", date(year, 5, 5): "Bevrijdingsdag",
            easter + timedelta(39): "Hemelvaartsdag", easter + timedelta(49): "Eerste pinksterdag",
            easter + timedelta(50): "Tweede pinksterdag", date(year, 12, 25): "Eerste kerstdag",
            date(year, 12, 26): "Tweede kerstdag",
        }
        assert dict(statutory_days(year)) == expected, year
    assert _easter(2026) == D("2026-04-05") and _easter(2027) == D("2027-03-28")  # the algorithm itself


def test_every_entry_names_its_source():
    data = load_legal_days()
    for day in [*data.statutory.values(), *data.equated.values()]:
        assert day.basis.startswith(("Atw art. 3 lid", "zondag (Atw art. 1)")), day
    assert {d.date for d in data.equated.values() if d.date.year >= 2026} == {
        D("2026-01-02"), D("2026-05-15"), D("2027-05-07"), D("2028-04-28"), D("2028-05-26")}
    assert any("2 januari 2026, 15 mei 2026, 7 mei 2027, 28 april 2028 en 26 mei 2028" in t for t in data.decrees)


def test_no_library_decides_a_legal_date():
    """The `holidays` package once moved 5 May; Loket's calendar does not consult it at all."""
    for module in (engine.calendar, engine.legal_days):
        source = open(module.__file__, encoding="utf-8").read()
        assert "import holidays" not in source, module.__name__


def test_the_shipped_calendar_data_does_not_run_out_within_a_year():
    """Fails a year before any shipped list ends, naming the file and what to renew: the next Besluit
    gelijkstelling (Staatscourant), the next school year (rijksoverheid.nl), or the statutory list."""
    horizon = date.today() + timedelta(days=365)
    stale = []
    for what, (file, last_year) in legal_covered_until().items():
        if date(last_year, 12, 31) < horizon:
            stale.append(f"{file}: {what} loopt tot en met {last_year}; vernieuwen")
    for what, (file, last_day) in covered_until().items():
        if last_day < horizon:
            stale.append(f"{file}: {what} loopt tot en met {last_day.isoformat()}; vernieuwen")
    assert not stale, "\n".join(stale)
