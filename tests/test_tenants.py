"""Setting up SWVs and schools by municipality, and their calendar settings, as an operator does it with
``loket tenants`` and ``loket schools``, on a real database (both backends), with the dates worked out by hand."""

from __future__ import annotations


def test_an_swv_is_set_up_by_its_municipalities(loket):
    made = loket("tenants", "add", "wm", "--name", "VO Westelijke Mijnstreek", "--gemeente", "Sittard-Geleen",
                 "--gemeente", "stein", "--gemeente", "Beekdaelen")
    assert "regio zuid" in made.stdout and "Stein" in made.stdout  # the table's spelling
    assert "regio: zuid (gemeenten: Sittard-Geleen, Stein, Beekdaelen)" in loket("tenants", "show", "wm").stdout
    utrecht = loket("tenants", "add", "su", "--name", "Sterk VO", "--gemeente", "Utrecht", "--gemeente", "Den Haag")
    assert "regio midden" in utrecht.stdout and "'s-Gravenhage" in utrecht.stdout
    kennemerland = loket("tenants", "add", "mk", "--name", "VO Midden Kennemerland", "--gemeente", "Haarlem",
                         "--gemeente", "Eemnes")  # Eemnes lies in Utrecht but in regio noord
    assert "regio noord" in kennemerland.stdout


def test_mixed_regions_need_a_region_and_a_split_municipality_is_named(loket):
    mixed = loket("tenants", "add", "x", "--name", "X", "--gemeente", "Utrecht", "--gemeente", "Maastricht", ok=False)
    assert mixed.exit_code == 1
    assert mixed.stderr.startswith("fout: deze gemeenten liggen in verschillende vakantieregio's")
    assert "Utrecht (midden)" in mixed.stderr and "Maastricht (zuid)" in mixed.stderr
    ede = loket("tenants", "add", "ede", "--name", "Ede", "--gemeente", "Ede")  # Gelderland: midden, no --region
    assert "regio midden" in ede.stdout
    achterhoek = loket("tenants", "add", "ah", "--name", "Achterhoek VO", "--gemeente", "Doetinchem", "--gemeente",
                       "Montferland", "--gemeente", "Oude IJsselstreek")
    assert "regio midden" in achterhoek.stdout
    assert "let op: de voormalige gemeente Didam (Montferland) ligt in regio zuid" in achterhoek.stdout
    unknown = loket("tenants", "add", "x", "--name", "X", "--gemeente", "Atlantis", ok=False)
    assert unknown.exit_code == 1 and "'Atlantis' is geen gemeente" in unknown.stderr
    given = loket("tenants", "add", "x", "--name", "X", "--gemeente", "Utrecht", "--gemeente", "Maastricht",
                  "--region", "midden")
    assert "regio midden" in given.stdout
    assert "regio noord" in loket("tenants", "add", "old", "--name", "Old", "--region", "noord").stdout


def test_5_may_a_working_day_where_the_swv_says_so(loket):
    loket("tenants", "add", "su", "--name", "Sterk VO", "--gemeente", "Utrecht")
    term = ("calendar", "add", "--tenant", "su", "--from", "2026-05-04", "--amount", "1", "--unit")
    assert loket(*term, "werkdagen").stdout.strip() == "2026-05-06"  # default: 5 May off
    assert loket(*term, "schooldagen").stdout.strip() == "2026-05-06"
    shown = loket("tenants", "calendar", "su", "--5-mei", "werkdag").stdout
    assert "5 mei: werkdag en schooldag" in shown
    assert loket(*term, "werkdagen").stdout.strip() == "2026-05-05"
    assert loket(*term, "schooldagen").stdout.strip() == "2026-05-05"
    # A legal term still treats 5 May as a feestdag (Atw art. 3 lid 1): Tue 5 May 2026 -> Wed 6 May.
    legal = loket("calendar", "add", "--tenant", "su", "--from", "2026-03-24", "--amount", "6", "--unit", "weken",
                  "--legal")
    assert legal.stdout.strip() == "2026-05-06"
    loket("tenants", "calendar", "su", "--5-mei", "standaard")
    assert loket(*term, "werkdagen").stdout.strip() == "2026-05-06"


def test_goede_vrijdag_as_werkdag_per_swv_but_always_a_feestdag_for_the_atw(loket):
    loket("tenants", "add", "wm", "--name", "WM", "--region", "zuid")
    loket("tenants", "calendar", "wm", "--goede-vrijdag", "werkdag")
    werkdag = loket("calendar", "add", "--tenant", "wm", "--from", "2026-04-02", "--amount", "1", "--unit",
                    "werkdagen")
    assert werkdag.stdout.strip() == "2026-04-03"
    legal = loket("calendar", "add", "--tenant", "wm", "--from", "2026-02-20", "--amount", "6", "--unit", "weken",
                  "--legal")
    assert legal.stdout.strip() == "2026-04-07"  # Goede Vrijdag 3 April, Easter, Tweede paasdag -> Tue 7


def test_the_advisory_second_week_of_the_meivakantie_per_swv(loket):
    loket("tenants", "add", "su", "--name", "Sterk VO", "--gemeente", "Utrecht")
    # 2026: fixed week 25 Apr - 3 May; adviesweek 18 - 26 April. From Thu 16 April, 2 school days:
    term = ("calendar", "add", "--tenant", "su", "--from", "2026-04-16", "--amount", "2", "--unit", "schooldagen")
    assert loket(*term).stdout.strip() == "2026-04-20"  # Fri 17, Mon 20
    loket("tenants", "calendar", "su", "--advies", "meivakantie-week2=aan")
    assert loket(*term).stdout.strip() == "2026-05-04"  # Fri 17, then Mon 4 May after both weeks
    bad = loket("tenants", "calendar", "su", "--advies", "zomervakantie=uit", ok=False)
    assert bad.exit_code == 1 and "geen adviesvakantie" in bad.stderr


def test_a_school_in_another_region_removes_carnaval_and_counts_its_own_school_days(loket):
    loket("tenants", "add", "su", "--name", "Sterk VO", "--gemeente", "Utrecht")
    made = loket("schools", "add", "14AB", "--tenant", "su", "--name", "VSO Maastricht", "--gemeente", "Maastricht")
    assert "eigen vakantieregio zuid (het SWV: midden)" in made.stdout
    loket("schools", "add", "16PX", "--tenant", "su", "--name", "CCZ", "--gemeente", "Zeist")
    # Summer 2026: midden 18 Jul - 30 Aug, zuid 11 Jul - 23 Aug. From Wed 8 July, 3 school days:
    summer = ("calendar", "add", "--tenant", "su", "--from", "2026-07-08", "--amount", "3", "--unit", "schooldagen")
    assert loket(*summer).stdout.strip() == "2026-07-13"
    assert loket(*summer, "--school", "14AB").stdout.strip() == "2026-08-24"
    assert loket(*summer, "--school", "16PX").stdout.strip() == "2026-07-13"
    # Carnaval 2027 (6-9 Feb) lies outside zuid's advisory voorjaarsvakantie (13-21 Feb): the school takes
    # carnaval week off instead. From Thu 11 Feb 2027, 3 school days:
    spring = ("calendar", "add", "--tenant", "su", "--school", "14AB", "--from", "2027-02-11", "--amount", "3",
              "--unit", "schooldagen")
    assert loket(*spring).stdout.strip() == "2027-02-23"  # Fri 12, (13-21 off), Mon 22, Tue 23
    loket("tenants", "calendar", "su", "--school", "14AB", "--zonder", "carnaval:2026-2027")
    assert loket(*spring).stdout.strip() == "2027-02-16"  # Fri 12, Mon 15, Tue 16
    for day in ("2027-02-08", "2027-02-09"):
        loket("calendar", "day-off", "--tenant", "su", "--school", "14AB", "--date", day, "--name", "Carnaval")
    carnaval = ("calendar", "add", "--tenant", "su", "--school", "14AB", "--from", "2027-02-05", "--amount", "1",
                "--unit", "schooldagen")
    assert loket(*carnaval).stdout.strip() == "2027-02-10"
    swv = ("calendar", "add", "--tenant", "su", "--from", "2027-02-05", "--amount", "1", "--unit", "schooldagen")
    assert loket(*swv).stdout.strip() == "2027-02-08"  # the SWV and its other schools are not touched
    shown = loket("tenants", "show", "su").stdout
    assert "14AB     VSO Maastricht: regio zuid (eigen regio), gemeente Maastricht, eigen kalender" in shown
    assert "16PX     CCZ: regio midden, gemeente Zeist" in shown
    school_year = loket("calendar", "show", "--tenant", "su", "--school", "14AB", "--year", "2027").stdout
    assert "2027-02-08  ma  vrije dag      Carnaval" in school_year
    assert "Voorjaarsvakantie" not in school_year


def test_tenants_show(loket):
    loket("tenants", "add", "su", "--name", "Sterk VO Utrecht", "--gemeente", "Utrecht", "--gemeente",
          "Stichtse Vecht")
    loket("tenants", "term", "su", "--route", "tlv-vso", "--term", "weken(2)", "--from", "knooppuntoverleg")
    loket("calendar", "day-off", "--tenant", "su", "--date", "2027-03-09", "--name", "Studiedag")
    shown = loket("tenants", "show", "su").stdout.splitlines()
    assert shown[0] == "SWV su: Sterk VO Utrecht"
    assert shown[1:3] == ["SWV-code: geen", "regio: midden (gemeenten: Utrecht, Stichtse Vecht)"]
    assert "routes: alle gedeployde routes" in shown  # no routes setting: every deployed route
    assert "  5 mei: vrij (geen werkdag, geen schooldag)" in shown
    assert "  adviesvakanties: herfstvakantie aan (standaard), voorjaarsvakantie aan (standaard), " \
           "meivakantie-week2 uit (standaard)" in shown
    assert "  vrije dag 2027-03-09: Studiedag" in shown
    assert "  tlv-vso: weken(2) vanaf knooppuntoverleg, escalatie naar bestuurder" in shown
    missing = loket("tenants", "show", "nope", ok=False)
    assert missing.exit_code == 1 and "bestaat niet" in missing.stderr
