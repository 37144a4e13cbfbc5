"""The rule machinery shared by every language: what a language's rules hold and how they compile.

A language module is data: its words and phrases (`LanguageWords`, `DateWords`) and, where the language needs
it, a last touch on descriptions. `compile_rules` turns them into the `LanguageRules` the extractor runs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from blocks.rules.dates import (
    DatePattern,
    Resolver,
    counted,
    day_of_month,
    end_of_month,
    end_of_next_week,
    end_of_week,
    fixed,
    start_of_next_week,
    today,
    weekday_resolver,
    with_dateparser,
)

Speaker = Literal["user", "assistant"]
# Up to three words between a label and its colon: "Next step after that:", "Prochaine étape après ça :".
A_FEW_WORDS = r"(?:\s+\w+){0,3}"
# "next_step": stated as a next step or reminder; "commitment": the user commits, or is told they must;
# "suggestion": advice, kept only when it has a due date; "recap": steps said again in short, one per
# comma or semicolon ("To recap: the chapter on Thursday, the regression, and the citations").
Kind = Literal["next_step", "commitment", "suggestion", "recap"]


@dataclass(frozen=True)
class LanguageRules:
    code: str
    # One regex per speaker with named groups next_step / commitment / suggestion / recap (first alternative
    # wins).
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
    # A last touch on a description in this language (German: no leading article, no "zu" infinitive).
    tidy: Callable[[str], str] = str.strip
    # Where one action holds a second step ("acheter un panier, et à prendre rendez-vous"); None: nowhere.
    step_join: re.Pattern[str] | None = None
    # A user's sentence saying what they do, in the present, restated as a commitment ("Die Leihräder hole ich
    # am 29. zurück" -> "Ich werde die Leihräder am 29. zurückholen"); taken only when it then has a date to come.
    restate: Callable[[str], str] | None = None
    # A deadline in words restated as a date ("before the early-bird deadline, i.e."), cut before the date.
    restated_deadline: re.Pattern[str] | None = None
    # Where a sentence's parts meet: a comma, a semicolon or a connector ("and", "y").
    part_break: re.Pattern[str] = re.compile(r"[,;]")
    # An assistant's sentence that opens with a verb telling the user what to do ("Avisa a tu banco",
    # "Export every mailbox", "Schicken Sie die Mängelanzeige"); None: the language has no such pattern.
    imperative: re.Pattern[str] | None = None
    # A trigger said in the negative is no step ("No tienes que llamar al banco", "Non devi pagare", "da musst du
    # nicht lange warten", "Sie müssen keinen Antrag stellen"): the negation just before the trigger (clitics
    # allowed between), or in the action's first clause; None: the trigger phrases already exclude it.
    negation_before: re.Pattern[str] | None = None
    negation_after: re.Pattern[str] | None = None
    # What the user says to call a step off, the step named after it ("no need to call the bank anymore",
    # "forget the bank", "laisse tomber la banque"); None: only the negated triggers call steps off.
    call_off: re.Pattern[str] | None = None
    # A request to be reminded, asked as a question ("Can you remind me to call the bank tomorrow?"): the one
    # question that states a step, the step after it.
    reminder_request: re.Pattern[str] | None = None

    def negated(self, sentence: str, trigger: re.Match[str], segment_end: int) -> bool:
        """Whether the trigger in `sentence` is said in the negative."""
        before = self.negation_before is not None and self.negation_before.search(sentence, 0, trigger.start())
        after = self.negation_after is not None and self.negation_after.match(sentence, trigger.end(), segment_end)
        return bool(before or after)


def topic_restater(topic: re.Pattern[str], commitment: str,
                    infinitive: Callable[[str], str | None]) -> Callable[[str], str]:
    """A plan told with its object first and a clitic before the verb in the first person ("el seguro lo
    contrato antes del lunes", "il bollo lo pago stasera"), restated as a commitment ("Voy a contratar el seguro
    antes del lunes"). `topic` has the groups `np`, `verb` and `rest`; `infinitive` gives the verb's infinitive,
    None for a verb that tells a state, not a step ("lo tengo", "lo so")."""

    def restate(sentence: str) -> str:
        match = topic.match(sentence.strip())
        verb = infinitive(match["verb"].lower()) if match else None
        if match is None or verb is None:
            return sentence
        np = match["np"][:1].lower() + match["np"][1:]
        return f"{commitment} {verb} {np}{match['rest']}"

    return restate


def rx(pattern: str) -> re.Pattern[str]:
    """Compile case-insensitively; a straight apostrophe in a pattern also matches a curly one."""
    return re.compile(pattern.replace("'", "['’]"), re.IGNORECASE)


def alternation(words: list[str]) -> str:
    return "(?:" + "|".join(words) + ")"


def whole_phrase(phrases: list[str]) -> str:
    """One of the phrases, standing as whole words (a phrase may end on an elision: "pas besoin d'")."""
    return rf"(?<!\w){alternation(phrases)}(?:(?<=')|(?!\w))"


def enumerated(ordinals: list[str], not_a_step: list[str] | None = None) -> str:
    """An ordinal word and its comma opening a step of an enumeration ("First, ask ...; Second, order ..."):
    at a sentence's start, or after a full stop the sentence splitter kept ("on Church St. Third, ...").
    A step starts with its verb: not with the words in `not_a_step` ("First, the venue is fine")."""
    not_before = rf"(?!\s*{alternation(not_a_step)}\b)" if not_a_step else ""
    return r"(?:^|(?<=[.;:]\s))" + alternation(ordinals) + r"\s*," + not_before


def trigger_regex(**kinds: list[str]) -> re.Pattern[str]:
    """One regex whose named groups tell the kind; each phrase must end on a word boundary."""
    groups = [f"(?P<{kind}>{alternation(phrases)})" for kind, phrases in kinds.items() if phrases]
    return rx(r"(?<![\w\u0027\u2019])(?:" + "|".join(groups) + r")(?:\b|(?<!\w))\s*")



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


@dataclass(frozen=True)
class DateWords:
    """One language's date phrases as regex sources; `date_patterns` compiles them in one order for all.

    Each phrase starts a word and may be followed by `tail` ("morning", "at the latest"). Groups: `wd` a
    weekday name, `core` a phrase given to dateparser, `day` a day of the month, `n` and `unit` a count.
    """

    language: str
    weekdays: dict[str, int]
    weekday: str  # where `{wd}` stands for the weekday names
    end_of_week: str
    end_of_next_week: str
    end_of_month: str
    today: str
    full_date: str  # "3 December", "le 3 décembre": `core` to dateparser
    day_of_month: str  # "on the 3rd", "le 3"
    next_week: str  # its Monday
    relative: str  # "tomorrow", "next month": `core` to dateparser
    counted: str  # "in two weeks", "dans quinze jours"
    numbers: dict[str, int]  # number words of `counted`
    units: dict[str, str]  # first letters of a unit -> day, week or month
    tail: str = ""
    idioms: dict[str, int] = field(default_factory=dict)  # "n unit" -> days: "huit jours" is a week
    # Weekdays written short ("by Fri", "bis Fr."): where `{wd}` stands for them in `weekday_short`, which
    # should ask for a preposition, since some are words too ("sat", "sun").
    weekdays_short: dict[str, int] = field(default_factory=dict)
    weekday_short: str = ""
    # The day of the month said after a weekday ("Monday the 8th", "lundi 19 avril"): groups `wday` and,
    # optional, `wmonth`. That day is the date.
    weekday_day: str = ""


def date_patterns(words: DateWords) -> tuple[DatePattern, ...]:
    """The language's date patterns, tried in this order on ties (see `find_date`)."""
    day_after = f"(?:{words.weekday_day})?" if words.weekday_day else ""
    resolvers: list[tuple[str, Resolver]] = [
        (words.weekday.replace("{wd}", f"(?P<wd>{alternation(list(words.weekdays))})") + day_after,
         weekday_resolver(words.weekdays, words.language)),
        *([(words.weekday_short.replace("{wd}", f"(?P<wd>{alternation(list(words.weekdays_short))})") + day_after,
            weekday_resolver(words.weekdays_short, words.language))] if words.weekdays_short else []),
        (words.end_of_next_week, fixed(end_of_next_week)),
        (words.end_of_week, fixed(end_of_week)),
        (words.end_of_month, fixed(end_of_month)),
        (words.today, fixed(today)),
        (words.full_date, with_dateparser(words.language)),
        (words.day_of_month, day_of_month),
        (words.next_week, fixed(start_of_next_week)),
        (words.relative, with_dateparser(words.language)),
        (words.counted, counted(words.numbers, words.units, words.idioms)),
    ]
    return tuple(DatePattern(rx(r"(?<!\w)" + pattern + words.tail), resolve) for pattern, resolve in resolvers)


@dataclass(frozen=True)
class LanguageWords:
    """What one language's rules say, as data; see `LanguageRules` for what each part is for."""

    code: str
    # Trigger phrases per speaker and kind: {"next_step": [...], "commitment": [...], "suggestion": [...]}.
    user: dict[str, list[str]]
    assistant: dict[str, list[str]]
    filler: list[str]  # words stripped at the start of an action ("also", "ensuite")
    leading: list[str]  # phrases stripped at the start of an action (nested triggers: "I need to")
    first_person: list[str]
    clause_words: list[str]  # words that end an action ("but", "parce que")
    trailing: list[str]  # connectors dropped at the end of an action ("and", "au plus tard")
    vague: list[str]
    heading_intro: list[str]  # "here are", "voici" before a heading
    heading_owners: list[str]  # "your", "my" before a heading's name
    heading_names: list[str]  # "next steps", "to-do list"
    heading_for: str  # "for you", "pour moi" after it
    dates: DateWords
    tidy: Callable[[str], str] = str.strip
    # End an action after a comma: "c'est", and an example given after it ("e.g.", "p. ex.", "z. B.").
    comma_clause_words: list[str] = field(default_factory=list)
    # A conjunction and the particle of an infinitive joining two steps in one action ("et à", "e di").
    step_joiners: list[str] = field(default_factory=list)
    # How this language's infinitives end ("er|ir|re"): a joiner counts before a lower-case infinitive only.
    infinitive_endings: str = ""
    # Where a pronoun object closes a verb's phrase, the conjunction after it opens a second step ("sign it and
    # pay the fee"): the pronouns and the conjunction.
    object_pronouns: list[str] = field(default_factory=list)
    conjunction: str = ""
    restate: Callable[[str], str] | None = None  # see `LanguageRules.restate`
    # A deadline said in words ("before", "prima di") then restated as a date ("i.e.", "cioè").
    deadline_words: list[str] = field(default_factory=list)
    restating_words: list[str] = field(default_factory=list)
    # A verb in the imperative at a sentence's start, as a regex source (see `LanguageRules.imperative`); and the
    # words that start a sentence so without telling a step ("Let me", "Mira", "Keep in mind").
    imperative: str = ""
    not_imperative: list[str] = field(default_factory=list)
    # The words that say a trigger in the negative (see `LanguageRules.negated`): just before it, with the
    # clitics that may stand between ("no" + "te", "non" + "la"); or after it: right after ("I'll never sign",
    # "je vais pas"), or anywhere in the action's first clause where the language puts its negation late
    # (`negation_anywhere`: "Ich muss das nicht mehr zahlen"), unless one of `negation_kept` follows ("nicht
    # vergessen" is a reminder, not a negation).
    negation_before: list[str] = field(default_factory=list)
    clitics: list[str] = field(default_factory=list)
    negation_after: list[str] = field(default_factory=list)
    negation_anywhere: bool = False
    negation_kept: list[str] = field(default_factory=list)
    call_off: list[str] = field(default_factory=list)  # see `LanguageRules.call_off`
    reminder_request: list[str] = field(default_factory=list)  # see `LanguageRules.reminder_request`


def compile_rules(words: LanguageWords) -> LanguageRules:
    """The rules the extractor runs, compiled from one language's words."""
    clause_words = alternation(words.clause_words)
    joins = []
    if words.step_joiners:
        joins.append(
            rf",?\s+{alternation(words.step_joiners)}\s*(?-i:(?=[a-zàâçéèêëîïôûù]\w*(?:{words.infinitive_endings})\b))"
        )
    if words.object_pronouns and words.conjunction:
        after_pronoun = "|".join(rf"(?<=\s{pronoun})" for pronoun in words.object_pronouns)
        joins.append(rf"(?:{after_pronoun}),?\s+{words.conjunction}(?=\s+(?-i:[a-z]))")
    after_comma = rf"|,\s+{alternation(words.comma_clause_words)}(?!\w)" if words.comma_clause_words else ""
    return LanguageRules(
        code=words.code,
        triggers={"user": trigger_regex(**words.user), "assistant": trigger_regex(**words.assistant)},
        leading_noise=rx(
            rf"^(?:{alternation(words.filler)}\b[,:]?\s*|{alternation(words.leading)}(?:\s+|(?<=')))"
        ),
        first_person=rx(rf"^{alternation(words.first_person)}\b"),
        clause_end=rx(rf"\s*(?:;|\s[—–-]\s{after_comma}|,?\s+{clause_words}(?!\w))"),
        trailing_noise=rx(rf"(?:[\s,;:.!?…]+|\s+{alternation(words.trailing)})+$"),
        vague=rx(rf"^{alternation(words.vague)}\b"),
        heading=rx(
            rf"^(?:{alternation(words.heading_intro)}\s+)?(?:{alternation(words.heading_owners)}\s+)?"
            rf"{alternation(words.heading_names)}"
            # "Los próximos pasos serían:": a few words before the colon, which is then needed.
            rf"(?:(?:\s+{words.heading_for})?\s*:?|{A_FEW_WORDS}\s*:)$"
        ),
        dates=date_patterns(words.dates),
        tidy=words.tidy,
        step_join=rx("|".join(joins)) if joins else None,
        restate=words.restate,
        part_break=rx(rf"[,;]|\s{alternation(words.trailing)}\s"),
        imperative=rx(
            rf"^(?:{alternation(words.filler)}\b[,:]?\s+)?"
            + (rf"(?!{alternation(words.not_imperative)}(?!\w))" if words.not_imperative else "")
            + rf"(?:{words.imperative})"
        ) if words.imperative else None,
        restated_deadline=rx(
            rf"\s+{alternation(words.deadline_words)}\b[^,;]*,\s*{alternation(words.restating_words)}\s*$"
        ) if words.deadline_words and words.restating_words else None,
        negation_before=rx(
            rf"\b{alternation(words.negation_before)}\s+"
            + (rf"(?:{alternation(words.clitics)}\s+)*" if words.clitics else "") + "$"
        ) if words.negation_before else None,
        negation_after=rx(
            ("[^,;:]*?" if words.negation_anywhere else r"\s*")
            + rf"\b{alternation(words.negation_after)}\b"
            + (rf"(?!\s+{alternation(words.negation_kept)}\b)" if words.negation_kept else "")
        ) if words.negation_after else None,
        call_off=rx(whole_phrase(words.call_off)) if words.call_off else None,
        reminder_request=rx(whole_phrase(words.reminder_request)) if words.reminder_request else None,
    )
