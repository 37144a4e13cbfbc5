"""German rules (best effort)."""

from __future__ import annotations

import re

from blocks.rules.dates import (
    day_of_month,
    end_of_month,
    end_of_week,
    fixed,
    relative,
    today,
    weekday_resolver,
    with_dateparser,
)
from blocks.rules.engine import LanguageRules, alternation, date_rule, rx, trigger_regex

ARTICLE = re.compile(r"^(?:der|die|das|den|dem|des|ein|eine|einen)\s+", re.IGNORECASE)
# "die Hotelzimmer zu reservieren" -> "Hotelzimmer reservieren"; "den Link einzufügen" -> "Link einfügen".
ZU_INFINITIVE = re.compile(r"\bzu\s+(\w+)$|\b(ab|an|auf|aus|bei|ein|fest|frei|her|hin|mit|nach|vor|weg|zurück)zu(\w{3,}en)$")


def tidy(description: str) -> str:
    """A todo as a German note reads: no leading article, a plain infinitive at the end."""
    text = ARTICLE.sub("", description.strip())
    return ZU_INFINITIVE.sub(lambda m: m[1] or f"{m[2]}{m[3]}", text)


def build() -> LanguageRules:
    weekdays = {
        "montag": 0,
        "dienstag": 1,
        "mittwoch": 2,
        "donnerstag": 3,
        "freitag": 4,
        "samstag": 5,
        "sonntag": 6,
    }
    months = r"(?:januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember)\b"
    opt = r"(?:(?:bis zum|bis|am|vor|spätestens|zum)\s+)?"
    number = r"(?:\d+|einem|einer|zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn)"
    tail = r"(?:\s+(?:vormittag|nachmittag|abend|um\s+\d{1,2}(?::\d{2})?\s*uhr))?(?:,?\s+spätestens)?"

    date = date_rule(tail)

    return LanguageRules(
        code="de",
        tidy=tidy,
        triggers={
            "user": trigger_regex(
                next_step=[
                    r"(?:mein |der )?nächster schritt\s*:",
                    r"notiz an mich\s*:",
                    r"erinnere mich(?: daran)?,?",
                    r"ich darf nicht vergessen,?",
                ],
                commitment=[
                    r"ich (?:werde|muss|sollte|will)(?: (?:auch|außerdem|dann))?",
                    r"(?:außerdem|dann|danach|zuerst|heute|morgen) (?:muss|werde|sollte) ich",
                ],
            ),
            "assistant": trigger_regex(
                next_step=[
                    r"(?:ihr |dein |der )?nächster schritt(?: für sie| für dich)?\s*:",
                    r"vergessen sie nicht,?",
                    r"vergiss nicht,?",
                    r"denken sie daran,?",
                    r"denk daran,?",
                    r"erinnerung\s*:",
                    r"(?:zusammenfassung|zusammengefasst|kurz gesagt)\s*:",
                ],
                commitment=[r"sie müssen(?: (?:auch|außerdem|noch))?", r"du musst(?: (?:auch|außerdem|noch))?"],
                suggestion=[r"sie sollten", r"du solltest"],
            ),
        },
        leading_noise=rx(
            r"^(?:(?:und|auch|dann|zuerst|noch|bitte|also|außerdem)\b[,:]?\s*|ich (?:werde|muss)\s+)"
        ),
        first_person=rx(r"^(?:ich\b|wir\b|lassen sie mich\b)"),
        clause_end=rx(r"\s*(?:;|\s[—–-]\s|,?\s+(?:aber|weil|da|damit|sodass)\b)"),
        trailing_noise=rx(r"(?:[\s,;:.!?…]+|\s+(?:und|oder|dann|spätestens))+$"),
        vague=rx(r"^(?:sie|es|mal sehen|sehen)\b"),
        heading=rx(
            r"^(?:ihre |deine |meine |die )?(?:nächsten? schritte|to-?dos?|aufgaben)"
            r"(?: für (?:sie|dich|mich))?\s*:?$"
        ),
        dates=(
            date(
                rf"{opt}(?:(?:nächsten|kommenden|diesen)\s+)?(?P<wd>{alternation(list(weekdays))})\b",
                weekday_resolver(weekdays),
            ),
            date(rf"{opt}(?:ende der woche|wochenende)\b", fixed(end_of_week)),
            date(rf"{opt}ende des monats\b", fixed(end_of_month)),
            date(r"(?:bis\s+)?heute(?:\s+abend)?\b", fixed(today)),
            date(rf"{opt}(?P<core>\d{{1,2}}\.?\s+{months}(?:\s+\d{{4}})?)", with_dateparser("de")),
            # dateparser reads neither "am 3." nor "nächsten Dienstag".
            date(rf"(?:bis zum|am|zum)\s+(?P<day>\d{{1,2}})\.(?!\s*{months})(?!\d)", day_of_month),
            date(r"(?:bis\s+)?(?P<core>übermorgen|morgen|nächste woche|nächsten monat)\b", with_dateparser("de")),
            date(
                rf"(?:in|innerhalb von)\s+(?P<n>{number})\s+(?P<unit>tagen|wochen|monaten)\b",
                relative("de", "in"),
            ),
        ),
    )



RULES = build()
