"""The offline, rule-based todo extractor: the embedded default used instead of a language model.

`OfflineLLM.extract_todos` finds the user's explicit next steps with per-language regular expressions:

* commitments the user makes about themselves ("I'll ...", "I need to ...", "je vais ...",
  "il faut que je ..."),
* next steps and reminders addressed to the user by the assistant or written in the produced text
  ("Next step for you: ...", "Remember to ...", "N'oubliez pas de ...", "Pensez à ..."), and items listed
  under a "Next steps" heading,
* suggestions ("You should ...", "Vous devriez ...") only when they come with a due date; those are the
  only items returned with `mentioned_as_todo` False.

What the assistant promises to do itself ("I'll draft the email for you") is never a user todo, and a bare
"Remember to ..." from the user is taken as an instruction to the assistant; the user's own reminders need a
self-reference ("remind me to", "note to self:", "I must remember to", "penser à ..."). Questions give nothing.
Rules are chosen by `language_code` (English, French; German best effort), falling back to English.

Due dates come from a date phrase found with small regexes (dateparser's `search_dates` is slow); only that
phrase is given to `dateparser.parse`, except weekday names, bare days of the month and "end of the week",
which dateparser gets wrong or cannot read and which the helpers below resolve instead. Without a date phrase,
or with one before the local date, the todo is due on the next working day. The first parse in a process
costs dateparser ~50-90 ms to load its language data; after that a 20-message conversation takes ~1-2 ms.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import dateparser
import jinja2
from pydantic import Field

from blocks.llm import LLM, DailyEmailContext, RescheduleContext, TodoContext

Speaker = Literal["user", "assistant"]
# "next_step": stated as a next step or reminder; "commitment": the user commits, or is told they must;
# "suggestion": advice, kept only when it has a due date.
Kind = Literal["next_step", "commitment", "suggestion"]


# --------------------------------------------------------------------------------------------------
# Small date helpers
# --------------------------------------------------------------------------------------------------


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date `days` working days (Monday to Friday) after `start`; 0 gives `start` itself."""
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def next_weekday(base: dt.date, weekday: int) -> dt.date:
    """The next date strictly after `base` that falls on `weekday` (0 = Monday)."""
    return base + dt.timedelta(days=(weekday - base.weekday() - 1) % 7 + 1)


def next_day_of_month(base: dt.date, day: int) -> dt.date | None:
    """The first date on or after `base` whose day of the month is `day` (skips months that lack it)."""
    if not 1 <= day <= 31:
        return None
    year, month = base.year, base.month
    for _ in range(12):
        if day <= calendar.monthrange(year, month)[1] and dt.date(year, month, day) >= base:
            return dt.date(year, month, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def end_of_week(base: dt.date) -> dt.date:
    """The Friday of `base`'s working week; on a weekend, the coming Friday."""
    return base + dt.timedelta(days=(4 - base.weekday()) % 7)


def end_of_month(base: dt.date) -> dt.date:
    return base.replace(day=calendar.monthrange(base.year, base.month)[1])


@functools.lru_cache(maxsize=2048)
def parse_date_phrase(phrase: str, language: str, base: dt.date) -> dt.date | None:
    """Resolve one short date phrase with dateparser from `base` at midnight, preferring the future."""
    parsed = dateparser.parse(
        phrase,
        languages=[language],
        settings={
            "RELATIVE_BASE": dt.datetime.combine(base, dt.time()),
            "PREFER_DATES_FROM": "future",
        },
    )
    return parsed.date() if parsed else None


# --------------------------------------------------------------------------------------------------
# Per-language rules
# --------------------------------------------------------------------------------------------------

Resolver = Callable[[re.Match[str], dt.date], "dt.date | None"]


@dataclass(frozen=True)
class DatePattern:
    regex: re.Pattern[str]
    resolve: Resolver


@dataclass(frozen=True)
class LanguageRules:
    code: str
    # One regex per speaker with named groups next_step / commitment / suggestion (first alternative wins).
    triggers: dict[str, re.Pattern[str]]
    # Prefixes stripped from the start of an action: nested triggers and filler ("also", "ensuite").
    leading_noise: re.Pattern[str]
    # An assistant's action that starts like this is the assistant's own promise.
    first_person: re.Pattern[str]
    # Where an action ends inside its sentence ("but", "because", "parce que", ";").
    clause_end: re.Pattern[str]
    # Connectors left dangling at the end of an action once the date phrase is removed.
    trailing_noise: re.Pattern[str]
    # Actions too vague to be todos ("I'll be there", "je vais bien").
    vague: re.Pattern[str]
    # A line announcing a list of next steps ("Next steps:", "Prochaines étapes :").
    heading: re.Pattern[str]
    dates: tuple[DatePattern, ...]


def _rx(pattern: str) -> re.Pattern[str]:
    """Compile case-insensitively; a straight apostrophe in a pattern also matches a curly one."""
    return re.compile(pattern.replace("'", "['’]"), re.IGNORECASE)


def _alternation(words: list[str]) -> str:
    return "(?:" + "|".join(words) + ")"


def _trigger_regex(**kinds: list[str]) -> re.Pattern[str]:
    """One regex whose named groups tell the kind; each phrase must end on a word boundary."""
    groups = [f"(?P<{kind}>{_alternation(phrases)})" for kind, phrases in kinds.items() if phrases]
    return _rx(r"(?<![\w\u0027\u2019])(?:" + "|".join(groups) + r")(?:\b|(?<!\w))\s*")


def _weekday(names: dict[str, int]) -> Resolver:
    return lambda m, base: next_weekday(base, names[m["wd"].lower()])


def _day_of_month(m: re.Match[str], base: dt.date) -> dt.date | None:
    return next_day_of_month(base, int(re.sub(r"\D", "", m["day"])))


def _fixed(func: Callable[[dt.date], dt.date]) -> Resolver:
    return lambda m, base: func(base)


def _dateparser(language: str, rewrite: Callable[[re.Match[str]], str] | None = None) -> Resolver:
    """Give dateparser the `core` group (or a rewritten phrase), never the surrounding preposition."""

    def resolve(m: re.Match[str], base: dt.date) -> dt.date | None:
        phrase = rewrite(m) if rewrite else m["core"]
        return parse_date_phrase(" ".join(phrase.lower().split()), language, base)

    return resolve


def _relative(language: str, word: str, idioms: dict[str, int] | None = None) -> Resolver:
    """'in two weeks' / 'within 3 days' / 'dans quinze jours': idioms map 'n unit' to a number of days."""
    parse = _dateparser(language, lambda m: f"{word} {m['n']} {m['unit']}")

    def resolve(m: re.Match[str], base: dt.date) -> dt.date | None:
        key = f"{m['n']} {m['unit']}".lower()
        if idioms and key in idioms:
            return base + dt.timedelta(days=idioms[key])
        return parse(m, base)

    return resolve


def _today(base: dt.date) -> dt.date:
    return base


# ---- English ---------------------------------------------------------------------------------------


def _english() -> LanguageRules:
    weekdays = {
        "monday": 0,
        "tuesday": 1,
        "wednesday": 2,
        "thursday": 3,
        "friday": 4,
        "saturday": 5,
        "sunday": 6,
    }
    months = (
        r"(?:january|february|march|april|may|june|july|august|september|october|november|december"
        r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?"
    )
    prep = r"(?:by|on|before|until|till|due|no later than)\s+"
    opt = f"(?:{prep})?"
    number = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    tail = (
        r"(?:\s+(?:morning|afternoon|evening|night|noon|eod|at\s+(?:noon|\d{1,2}(?::\d{2})?\s*(?:am|pm)?)))?"
        r"(?:,?\s+at the latest)?"
    )
    # "on the 3rd floor", "by the 2nd round" are not dates; "the 3rd of March" is a full date.
    not_a_day = (
        rf"(?!\s+(?:of\s+)?{months})"
        r"(?!\s+(?:floor|slide|page|item|point|time|quarter|round|version|draft|chapter|section|line|row"
        r"|column|option|one|candidate|interview|step|person|place|year|week|day|month)s?\b)"
    )
    # The assistant saying "I'll remember to ..." or "we'll make sure to ..." speaks of itself.
    not_after_i = r"(?<!I )(?<!I'll )(?<!I will )(?<!we )(?<!we'll )(?<!we will )"

    def date(pattern: str, resolve: Resolver) -> DatePattern:
        return DatePattern(_rx(r"(?<!\w)" + pattern + tail), resolve)

    # "I also need to…", "I'll still have to…": an adverb between subject and verb is still a commitment.
    adverb = r"(?:(?:also|still|really|just|first|then|definitely|probably|absolutely) )?"
    return LanguageRules(
        code="en",
        triggers={
            "user": _trigger_regex(
                next_step=[
                    r"(?:my |the )?next steps? (?:for me )?(?:is to|is|are)\s*:?",
                    r"(?:my |the )?next steps?(?: for me)?\s*[:\-–]",
                    r"note to self\s*:",
                    r"to-?do\s*:",
                    r"remind me to",
                    r"(?:I )?(?:must|need to|have to|should|will|'ll) remember to",
                    r"(?:I )?(?:mustn't|must not|shouldn't|should not|can't|cannot|won't|will not) forget to",
                ],
                commitment=[
                    rf"I(?:'ll| will| shall) {adverb}(?:need|have) to",
                    rf"I(?:'ll| will| shall) {adverb}",
                    rf"I(?:'m| am) {adverb}(?:going|planning|gonna) to",
                    r"I(?:'m| am) gonna",
                    rf"I {adverb}(?:need|have|ought|plan|intend|promised) to",
                    r"I've got to",
                    rf"I {adverb}(?:must|should)(?! have\b)",
                    r"I(?:'d| had) better",
                ],
            ),
            "assistant": _trigger_regex(
                next_step=[
                    r"(?:your |the )?next steps? for you (?:is to|is|are)\s*:?",
                    r"(?:your |the )?next steps? for you\s*[:\-–]",
                    r"your next steps? (?:is to|is|are)\s*:?",
                    r"(?:your |the )?next steps?\s*[:\-–]",
                    r"(?:as a )?reminder\s*:",
                    r"to-?do(?: for you)?\s*:",
                    not_after_i + r"(?:please )?remember to",
                    not_after_i + r"(?:please )?(?:don't|do not) forget to",
                    not_after_i + r"(?:please )?make sure (?:to|that you|you)",
                ],
                commitment=[
                    r"you(?:'ll| will) (?:need|have) to",
                    r"you (?:need|have|ought) to",
                    r"you(?:'ve| have) got to",
                    r"you must",
                ],
                suggestion=[
                    r"you should(?! have\b)",
                    r"you(?:'d| would) (?:better|want to)",
                    r"you(?:'ll| will) want to",
                    r"you could",
                    r"I (?:recommend|suggest) (?:that )?you",
                ],
            ),
        },
        leading_noise=_rx(
            r"^(?:(?:and|also|then|first|just|still|please|so|now|ok|okay)\b[,:]?\s*"
            r"|to\s+|(?:go ahead and|try to|remember to|(?:don't|not) forget to|make sure (?:to|that I|I))\s+"
            r"|I(?:'ll| will) (?:need|have) to\s+|I(?:'ll| will)\s+|I (?:need to|have to|must|should)\s+)"
        ),
        first_person=_rx(r"^(?:I\b|we\b|let me\b|let's\b|let us\b)"),
        clause_end=_rx(r"\s*(?:;|\s[—–-]\s|,?\s+(?:but|because|since|unless|so that|so I can|which)\b)"),
        trailing_noise=_rx(r"(?:[\s,;:.!?…]+|\s+(?:and|or|then|at the latest))+$"),
        vague=_rx(
            r"^(?:be|you|it|do (?:it|that|this)|think about it|see (?:if|what|how|whether)"
            r"|let you know|keep you (?:posted|updated)|get back to you"
            r"|(?:need|want|ask|let) you|would like you)\b"
        ),
        heading=_rx(
            r"^(?:your |my |the )?(?:next steps?|action items?|to-?dos?|to-?do list)"
            r"(?: for (?:you|me))?\s*:?$"
        ),
        dates=(
            date(
                rf"{opt}(?:(?:this|next|the coming|coming)\s+)?(?P<wd>{_alternation(list(weekdays))})\b",
                _weekday(weekdays),
            ),
            date(rf"{opt}(?:the\s+)?end of (?:the |this )?(?:working |work )?week\b", _fixed(end_of_week)),
            date(rf"{opt}(?:the\s+)?end of (?:the |this )?month\b", _fixed(end_of_month)),
            date(rf"{opt}(?:today|tonight|(?:the\s+)?end of (?:the |to)?day|eod)\b", _fixed(_today)),
            date(
                rf"{opt}(?P<core>(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{months}(?:,?\s+\d{{4}})?"
                rf"|{months}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|\d{{4}}-\d{{2}}-\d{{2}})",
                _dateparser("en"),
            ),
            date(rf"{prep}the\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b{not_a_day}", _day_of_month),
            date(
                rf"{opt}(?P<core>(?:the\s+)?day after tomorrow|tomorrow|next week|next month)\b",
                _dateparser("en"),
            ),
            date(
                rf"(?:in|within)\s+(?:the next\s+)?(?P<n>{number})\s+(?P<unit>days?|weeks?|months?)\b",
                _relative("en", "in"),
            ),
        ),
    )


# ---- French ----------------------------------------------------------------------------------------


def _french() -> LanguageRules:
    weekdays = {"lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6}
    months = (
        r"(?:janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre"
        r"|décembre|decembre|janv|févr|fevr|avr|juil|sept|oct|nov|déc|dec)\b\.?"
    )
    opt = r"(?:(?:d'ici(?: à)?|avant|pour|jusqu'à|au plus tard|dès)\s+)?"
    number = r"(?:\d+|un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|quinze)"
    tail = (
        r"(?:\s+(?:matin|midi|après-midi|soir|à\s+\d{1,2}\s*h(?:\s*\d{2})?))?"
        r"(?:,?\s+(?:au plus tard|dernier délai))?"
    )
    # "le 3e trimestre", "le 15h", "le 3 %" are not days; "le 3 décembre" is a full date.
    not_a_day = rf"(?!\s*(?:{months}|\d|%|h\b|heures?\b|e\b|ème\b|€|k€|°))"
    # "Prochaine étape : ...", "la prochaine étape est de ...", "ma prochaine étape, c'est d'...".
    next_step = r"\s*(?::|-|–|,?\s*(?:c')?est(?: de| d'|\s*:)?)"
    # The assistant saying "je pense à une structure ..." or "je n'oublie pas de ..." speaks of itself.
    not_after_je = r"(?<!je )(?<!j'y )(?<!on )(?<!nous )"

    def date(pattern: str, resolve: Resolver) -> DatePattern:
        return DatePattern(_rx(r"(?<!\w)" + pattern + tail), resolve)

    return LanguageRules(
        code="fr",
        triggers={
            "user": _trigger_regex(
                next_step=[
                    r"(?:ma |la )?prochaine étape(?: pour moi)?" + next_step,
                    r"note (?:pour moi(?:-même)?|à moi-même)\s*:",
                    r"à faire\s*:",
                    r"rappel(?:le|ez)-moi (?:de|d')",
                    r"(?:il faut que je |je dois |je vais )?penser à",
                    r"(?:il ne faut pas que j'oublie|je ne dois pas oublier|ne pas oublier) (?:de|d')",
                ],
                commitment=[
                    r"je vais devoir",
                    r"je vais",
                    r"je dois",
                    r"je devrai",
                    r"il (?:faut|faudra|faudrait|va falloir) que (?:je|j')",
                    r"je m'occupe (?:de|d')",
                    r"je me charge (?:de|d')",
                    r"je (?:compte|prévois|prevois)",
                    r"je m'engage à",
                ],
            ),
            "assistant": _trigger_regex(
                next_step=[
                    r"(?:votre |ta |la )?prochaine étape(?: pour vous| pour toi)?" + next_step,
                    r"rappel\s*:",
                    r"à faire(?: pour vous)?\s*:",
                    not_after_je + r"n'oubli(?:ez|e) pas (?:de|d')",
                    not_after_je + r"pens(?:ez|e) (?:bien )?à",
                    not_after_je + r"veill(?:ez|e) à",
                    r"assurez-vous (?:de|d')",
                    r"assure-toi (?:de|d')",
                ],
                commitment=[
                    r"vous (?:devez|devrez|allez devoir|aurez à)",
                    r"tu (?:dois|devras|vas devoir|auras à)",
                    r"il (?:vous|te) (?:faut|faudra)",
                    r"il (?:faut|faudra|va falloir) que (?:vous|tu)",
                ],
                suggestion=[
                    r"vous devriez",
                    r"tu devrais",
                    r"je (?:vous|te) (?:conseille|recommande|suggère) (?:de|d')",
                ],
            ),
        },
        leading_noise=_rx(
            r"^(?:(?:et|aussi|ensuite|puis|d'abord|bien|encore|absolument|donc|alors|ok|bon)\b[,:]?\s*"
            r"|(?:penser à|ne pas oublier (?:de|d')|bien penser à)\s*"
            r"|je vais\s+|je dois\s+|il faut que je\s+|il faut que j')"
        ),
        first_person=_rx(r"^(?:je\b|j'|nous\b|on\b|laissez-moi\b)"),
        clause_end=_rx(
            r"\s*(?:;|\s[—–-]\s|,?\s+(?:mais|parce que|parce qu'|car|puisque|pour que|afin que|ce qui)\b)"
        ),
        trailing_noise=_rx(r"(?:[\s,;:.!?…]+|\s+(?:et|ou|puis|au plus tard))+$"),
        vague=_rx(r"^(?:bien|mieux|voir|y réfléchir|être|vous|tu|te|dire|avouer|essayer)\b"),
        heading=_rx(
            r"^(?:vos |tes |mes |les )?(?:prochaines? étapes?|actions? à mener|à faire|todo)"
            r"(?: pour (?:vous|toi|moi))?\s*:?$"
        ),
        dates=(
            date(
                rf"{opt}(?:(?:le|ce)\s+)?(?P<wd>{_alternation(list(weekdays))})\b"
                r"(?:\s+(?:prochain|qui vient))?",
                _weekday(weekdays),
            ),
            date(rf"{opt}(?:la\s+)?(?:en\s+)?fin (?:de (?:la )?|de cette )semaine\b", _fixed(end_of_week)),
            date(rf"{opt}(?:la\s+)?(?:en\s+)?fin (?:du|de) mois\b", _fixed(end_of_month)),
            date(rf"{opt}(?:aujourd'hui|ce soir|dans la journée|(?:en\s+)?fin de journée)", _fixed(_today)),
            date(rf"{opt}(?:le\s+)?(?P<core>(?:1er|\d{{1,2}})\s+{months}(?:\s+\d{{4}})?)", _dateparser("fr")),
            date(rf"{opt}le\s+(?P<day>1er|\d{{1,2}})\b{not_a_day}", _day_of_month),
            date(
                rf"{opt}(?P<core>après-demain|demain|la semaine prochaine|le mois prochain)",
                _dateparser("fr"),
            ),
            # dateparser cannot read "dans quinze jours"; "huit jours" means a week, not eight days.
            date(
                rf"(?:d'ici|dans|sous)\s+(?P<n>{number})\s+(?P<unit>jours?|semaines?|mois)\b",
                _relative("fr", "dans", idioms={"huit jours": 7, "quinze jours": 14}),
            ),
        ),
    )


# ---- German (best effort) --------------------------------------------------------------------------


def _german() -> LanguageRules:
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

    def date(pattern: str, resolve: Resolver) -> DatePattern:
        return DatePattern(_rx(r"(?<!\w)" + pattern + tail), resolve)

    return LanguageRules(
        code="de",
        triggers={
            "user": _trigger_regex(
                next_step=[
                    r"(?:mein |der )?nächster schritt\s*:",
                    r"notiz an mich\s*:",
                    r"erinnere mich(?: daran)?,?",
                    r"ich darf nicht vergessen,?",
                ],
                commitment=[r"ich werde", r"ich muss", r"ich sollte", r"ich will"],
            ),
            "assistant": _trigger_regex(
                next_step=[
                    r"(?:ihr |dein |der )?nächster schritt(?: für sie| für dich)?\s*:",
                    r"vergessen sie nicht,?",
                    r"vergiss nicht,?",
                    r"denken sie daran,?",
                    r"denk daran,?",
                    r"erinnerung\s*:",
                ],
                commitment=[r"sie müssen", r"du musst"],
                suggestion=[r"sie sollten", r"du solltest"],
            ),
        },
        leading_noise=_rx(r"^(?:(?:und|auch|dann|zuerst|noch|bitte|also)\b[,:]?\s*|ich (?:werde|muss)\s+)"),
        first_person=_rx(r"^(?:ich\b|wir\b|lassen sie mich\b)"),
        clause_end=_rx(r"\s*(?:;|\s[—–-]\s|,?\s+(?:aber|weil|da|damit|sodass)\b)"),
        trailing_noise=_rx(r"(?:[\s,;:.!?…]+|\s+(?:und|oder|dann|spätestens))+$"),
        vague=_rx(r"^(?:sie|es|mal sehen|sehen)\b"),
        heading=_rx(
            r"^(?:ihre |deine |meine |die )?(?:nächsten schritte|to-?dos?|aufgaben)"
            r"(?: für (?:sie|dich|mich))?\s*:?$"
        ),
        dates=(
            date(
                rf"{opt}(?:(?:nächsten|kommenden|diesen)\s+)?(?P<wd>{_alternation(list(weekdays))})\b",
                _weekday(weekdays),
            ),
            date(rf"{opt}(?:ende der woche|wochenende)\b", _fixed(end_of_week)),
            date(rf"{opt}ende des monats\b", _fixed(end_of_month)),
            date(r"(?:bis\s+)?heute(?:\s+abend)?\b", _fixed(_today)),
            date(rf"{opt}(?P<core>\d{{1,2}}\.?\s+{months}(?:\s+\d{{4}})?)", _dateparser("de")),
            # dateparser reads neither "am 3." nor "nächsten Dienstag".
            date(rf"(?:bis zum|am|zum)\s+(?P<day>\d{{1,2}})\.(?!\s*{months})(?!\d)", _day_of_month),
            date(r"(?:bis\s+)?(?P<core>übermorgen|morgen|nächste woche|nächsten monat)\b", _dateparser("de")),
            date(
                rf"(?:in|innerhalb von)\s+(?P<n>{number})\s+(?P<unit>tagen|wochen|monaten)\b",
                _relative("de", "in"),
            ),
        ),
    )


ENGLISH, FRENCH, GERMAN = _english(), _french(), _german()

RULES: dict[str, LanguageRules] = {rules.code: rules for rules in (ENGLISH, FRENCH, GERMAN)}


def rules_for(language_code: str | None) -> LanguageRules:
    """Rules for 'fr', 'fr-FR', 'FR'...; English for anything unknown."""
    return RULES.get((language_code or "en").strip().lower()[:2], ENGLISH)


# --------------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•·▪‣]|\d{1,2}[.)]|\[[ xX]?\])\s+")
_MARKDOWN = re.compile(r"^\s*#+\s*|\*\*|__")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”»)]*\s+")
# A sentence does not end after "e.g." or "Mr.", nor before a lower-case letter ("am 3. anrufen").
_ABBREVIATION = re.compile(r"\b(?:e\.g|i\.e|mr|mrs|ms|dr|vs|approx|cf|mme|mlle|st|no)\.$", re.IGNORECASE)


def split_lines(text: str) -> list[tuple[str, bool]]:
    """Non-empty lines with list markers and markdown emphasis removed, each with whether it was a bullet."""
    lines = []
    for raw in text.splitlines():
        is_bullet = bool(_BULLET.match(raw))
        line = _MARKDOWN.sub("", _BULLET.sub("", raw)).strip()
        if line:
            lines.append((line, is_bullet))
    return lines


def split_sentences(text: str) -> list[str]:
    """Split on line breaks and on . ! ? … followed by a space and a sentence start."""
    sentences: list[str] = []
    for line, _ in split_lines(text):
        in_line: list[str] = []
        for part in _SENTENCE_END.split(line):
            if in_line and (part[:1].islower() or _ABBREVIATION.search(in_line[-1])):
                in_line[-1] = f"{in_line[-1]} {part}"
            elif part.strip():
                in_line.append(part)
        sentences.extend(sentence.strip() for sentence in in_line)
    return sentences


def normalize_description(text: str) -> str:
    """Casefold, drop punctuation, collapse whitespace: the key used to skip duplicates.

    Dashes and slashes become spaces ("follow-up" = "follow up"); other punctuation goes ("don't" = "dont").
    """
    chars = []
    for ch in text.casefold():
        if ch in "-‐–—/":
            chars.append(" ")
        elif not unicodedata.category(ch).startswith("P"):
            chars.append(ch)
    return " ".join("".join(chars).split())


@dataclass(frozen=True)
class FoundDate:
    date: dt.date
    start: int
    end: int


def find_date(text: str, rules: LanguageRules, base: dt.date) -> FoundDate | None:
    """The first date phrase in `text` that resolves to a date (the longest on ties), even a past one."""
    best: FoundDate | None = None
    for pattern in rules.dates:
        for match in pattern.regex.finditer(text):
            if best is not None and (match.start(), -match.end()) >= (best.start, -best.end):
                break
            resolved = pattern.resolve(match, base)
            if resolved is not None:
                best = FoundDate(resolved, match.start(), match.end())
                break
    return best


def clean_description(action: str, rules: LanguageRules) -> str:
    """Drop nested commitment phrases, filler and dangling connectors; upper-case the first letter."""
    text = " ".join(action.split())
    text = re.sub(r"\s+([,;:.!?])", r"\1", text)
    while True:
        stripped = rules.leading_noise.sub("", text, count=1).lstrip(" ,:;-–")
        stripped = rules.trailing_noise.sub("", stripped)
        if stripped == text:
            break
        text = stripped
    text = text.strip(" \"'“”«»()")
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    description: str
    due_date: dt.date | None
    kind: Kind


def _candidate(
    sentence: str,
    action_start: int,
    segment_end: int,
    prefix_start: int,
    prefix_end: int,
    speaker: Speaker,
    kind: Kind,
    rules: LanguageRules,
    base: dt.date,
) -> Candidate | None:
    """The todo stated in sentence[action_start:segment_end], cut at the first clause boundary.

    Its date is looked for in the action, then before the trigger (prefix_start:prefix_end), then after
    the clause boundary.
    """
    segment = sentence[action_start:segment_end]
    boundary = rules.clause_end.search(segment)
    action = segment[: boundary.start()] if boundary else segment
    if speaker == "assistant" and rules.first_person.match(action.lstrip()):
        return None  # the assistant's own promise ("Next step: I'll draft the memo")

    found = find_date(action, rules, base)
    if found is not None:
        # "update the cap table on the 3rd, after the grant": the comma went with the date.
        action = action[: found.start] + " " + re.sub(r"^\s*,", "", action[found.end :])
    else:
        # "Tomorrow, I'll call the bank" / "... because she needs it by Friday".
        found = find_date(sentence[prefix_start:prefix_end], rules, base) or (
            find_date(segment[boundary.end() :], rules, base) if boundary else None
        )

    description = clean_description(action, rules)
    if len(description.split()) < 2 or rules.vague.match(action.lstrip()) or rules.vague.match(description):
        return None
    if kind == "suggestion" and found is None:
        return None
    # A date before today is dropped from the description but not used: the default due date applies.
    due_date = found.date if found is not None and found.date >= base else None
    return Candidate(description, due_date, kind)


def extract_from_sentence(
    sentence: str, speaker: Speaker, rules: LanguageRules, base: dt.date
) -> list[Candidate]:
    """Every next step for the user in one sentence; a question gives none."""
    if sentence.rstrip(" \"'”»)").endswith("?"):
        return []
    matches = list(rules.triggers[speaker].finditer(sentence))
    candidates = []
    previous_end = 0
    for index, match in enumerate(matches):
        segment_end = matches[index + 1].start() if index + 1 < len(matches) else len(sentence)
        kind: Kind = match.lastgroup  # type: ignore[assignment]
        candidate = _candidate(
            sentence, match.end(), segment_end, previous_end, match.start(), speaker, kind, rules, base
        )
        if candidate is not None:
            candidates.append(candidate)
        previous_end = segment_end
    return candidates


def find_next_steps(text: str, speaker: Speaker, rules: LanguageRules, base: dt.date) -> Iterator[Candidate]:
    """Next steps in one message or document, in reading order.

    Bullets under a "Next steps" heading are next steps as a whole; other lines go sentence by sentence.
    """
    under_heading = False
    for line, is_bullet in split_lines(text):
        if rules.heading.match(line.rstrip()):
            under_heading = True
            continue
        if not is_bullet:
            under_heading = False
        sentences = split_sentences(line)
        first = sentences[0] if sentences else ""
        if under_heading and not first.endswith("?") and not rules.triggers[speaker].match(first):
            # The whole first sentence of the bullet is the next step.
            candidate = _candidate(first, 0, len(first), 0, 0, speaker, "next_step", rules, base)
            if candidate is not None:
                yield candidate
            sentences = sentences[1:]
        for sentence in sentences:
            yield from extract_from_sentence(sentence, speaker, rules, base)


# --------------------------------------------------------------------------------------------------
# The block
# --------------------------------------------------------------------------------------------------


class OfflineLLM(LLM):
    """Deterministic, rule-based todo extraction in English and French (German best effort), no model."""

    _block_type_name = "Offline LLM"
    _block_type_slug = "nightshift-offline-llm"
    _description = (
        "Finds the user's explicit next steps with per-language rules and resolves their due dates with "
        "dateparser. The embedded default when no language model is configured."
    )

    default_due_in_working_days: int = Field(
        default=1, ge=0, description="Working days after the local date for todos that mention no date."
    )

    def extract_todos(self, context: TodoContext) -> list[dict[str, Any]]:
        rules = rules_for(context.language_code)
        base = context.local_date
        default_due = add_working_days(base, self.default_due_in_working_days)
        seen = {normalize_description(todo) for todo in context.known_todos}

        sources: list[tuple[Speaker, str]] = [(message.sender, message.text) for message in context.messages]
        if context.produced_text:
            sources.append(("assistant", context.produced_text))

        todos: list[dict[str, Any]] = []
        for speaker, text in sources:
            for candidate in find_next_steps(text, speaker, rules, base):
                key = normalize_description(candidate.description)
                if not key or key in seen:
                    continue
                seen.add(key)
                todos.append(
                    {
                        "description": candidate.description,
                        "due_date": (candidate.due_date or default_due).isoformat(),
                        "mentioned_as_todo": candidate.kind != "suggestion",
                    }
                )
        return todos

    def relevant_chunks(self, title: str, chunks: list[str]) -> list[bool]:
        """Heuristic boilerplate filter: short chunks of site chrome and menu-like link lists are dropped."""
        return [not looks_like_boilerplate(chunk) for chunk in chunks]

    def propose_reschedule(self, context: RescheduleContext) -> dict[str, Any]:
        """The candidate working day with the fewest open todos (the earliest on a tie)."""
        day = quietest_working_day(context.local_date, context.open_todos_per_day)
        words = _words(context.language_code)
        justification = words["reschedule"].render(
            old=format_day(context.scheduled_for, words), new=format_day(day, words),
            count=context.open_todos_per_day.get(day, 0), times=context.times_scheduled,
        )
        return {"reschedule_date": day.isoformat(), "justification": justification}

    def write_daily_email(self, context: DailyEmailContext) -> dict[str, Any]:
        """Subject and greeting from a per-language jinja2 template."""
        words = _words(context.language_code)
        values = {
            "name": context.user_name.split()[0] if context.user_name.strip() else "",
            "day": format_day(context.local_date, words),
            "today": len(context.today),
            "moved": len(context.rescheduled) + sum(todo.previous_date is not None for todo in context.today),
        }
        return {"subject": words["subject"].render(values), "body": words["body"].render(values)}


# --------------------------------------------------------------------------------------------------
# Boilerplate heuristic (the offline relevance check of website chunks)
# --------------------------------------------------------------------------------------------------

BOILERPLATE_PHRASES = re.compile(
    r"cookies?\b|all rights reserved|©|\(c\) \d{4}|copyright|privacy (?:policy|notice)|terms of (?:use|service)"
    r"|subscribe|newsletter|sign (?:in|up)|log ?in\b|follow us|share (?:on|this)|skip to (?:main )?content"
    r"|back to top|datenschutz|impressum|alle rechte vorbehalten|mentions légales|tous droits réservés"
    r"|politique de confidentialité|se connecter|abonnez-vous",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"[.!?:;。！？…\"”»)]$")


def looks_like_boilerplate(chunk: str) -> bool:
    """Site chrome, not content: mostly boilerplate phrases, or a list of short link-like lines."""
    words = chunk.split()
    if not words:
        return True
    hits = len(BOILERPLATE_PHRASES.findall(chunk))
    # About one legal or navigation phrase every eight words: a footer, banner or login prompt.
    if hits and hits * 8 >= len(words):
        return True
    lines = [line.strip() for line in chunk.splitlines() if line.strip()]
    if len(lines) >= 4:
        short = sum(len(line.split()) <= 3 and not SENTENCE_END.search(line) for line in lines)
        if short / len(lines) >= 0.8:  # a menu: many short lines, none of them a sentence
            return True
    return False


# --------------------------------------------------------------------------------------------------
# Rescheduling rule and the offline writer's words
# --------------------------------------------------------------------------------------------------

RESCHEDULE_HORIZON_WORKING_DAYS = 5


def candidate_days(local_date: dt.date, working_days: int = RESCHEDULE_HORIZON_WORKING_DAYS) -> list[dt.date]:
    """The next `working_days` working days from `local_date` on (today included when it is one)."""
    first = local_date if local_date.weekday() < 5 else add_working_days(local_date, 1)
    return [add_working_days(first, n) for n in range(working_days)]


def quietest_working_day(local_date: dt.date, open_todos_per_day: dict[dt.date, int]) -> dt.date:
    """The candidate working day holding the fewest open todos; the earliest one on a tie."""
    days = candidate_days(local_date)
    return min(days, key=lambda day: (open_todos_per_day.get(day, 0), day))


_TEMPLATES = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)

_WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        "months": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                   "October", "November", "December"],
        "day": "{weekday} {day} {month}",
        "reschedule": "It was due on {{ old }}; moved to {{ new }}, the next working day with the fewest open "
                      "todos ({{ count }}){% if times > 1 %}, after {{ times - 1 }} earlier "
                      "move{{ 's' if times > 2 }}{% endif %}.",
        "subject": "Your todos for {{ day }}{% if today %}: {{ today }} today{% endif %}"
                   "{% if moved %}, {{ moved }} moved{% endif %}",
        "body": "Good morning{% if name %} {{ name }}{% endif %},\n\n"
                "{% if today %}You have {{ today }} todo{{ 's' if today > 1 }} for today."
                "{% else %}Nothing is due today.{% endif %}"
                "{% if moved %} {{ moved }} todo{{ 's were' if moved > 1 else ' was' }} moved since yesterday; "
                "the reasons are below.{% endif %}\n\nHave a good day!",
    },
    "fr": {
        "weekdays": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
        "months": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                   "octobre", "novembre", "décembre"],
        "day": "{weekday} {day} {month}",
        "reschedule": "Prévue le {{ old }} ; reportée au {{ new }}, le prochain jour ouvré le moins chargé "
                      "({{ count }} tâche{{ 's' if count > 1 }} ouverte{{ 's' if count > 1 }})"
                      "{% if times > 1 %}, après {{ times - 1 }} report{{ 's' if times > 2 }}{% endif %}.",
        "subject": "Vos tâches du {{ day }}{% if today %} : {{ today }} aujourd'hui{% endif %}"
                   "{% if moved %}, {{ moved }} reportée{{ 's' if moved > 1 }}{% endif %}",
        "body": "Bonjour{% if name %} {{ name }}{% endif %},\n\n"
                "{% if today %}Vous avez {{ today }} tâche{{ 's' if today > 1 }} pour aujourd'hui."
                "{% else %}Rien n'est prévu aujourd'hui.{% endif %}"
                "{% if moved %} {{ moved }} tâche{{ 's ont été reportées' if moved > 1 else ' a été reportée' }} "
                "depuis hier ; les raisons figurent ci-dessous.{% endif %}\n\nBonne journée !",
    },
}


@functools.lru_cache(maxsize=None)
def _words(language_code: str | None) -> dict[str, Any]:
    """The offline writer's words for a language (English when unknown), templates compiled once."""
    words = dict(_WORDS.get((language_code or "en").strip().lower()[:2], _WORDS["en"]))
    for key in ("reschedule", "subject", "body"):
        words[key] = _TEMPLATES.from_string(words[key])
    return words


def format_day(day: dt.date, words: dict[str, Any]) -> str:
    """'Tuesday 24 November' / 'mardi 24 novembre'."""
    return words["day"].format(weekday=words["weekdays"][day.weekday()], day=day.day, month=words["months"][day.month - 1])


def format_local_day(day: dt.date, language_code: str | None) -> str:
    """A date as the offline writer says it in the user's language: 'Tuesday 24 November'."""
    return format_day(day, _words(language_code))
