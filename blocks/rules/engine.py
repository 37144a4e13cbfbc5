"""The rule machinery shared by every language: what a language's rules hold and how they compile."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from blocks.rules.dates import DatePattern, Resolver

Speaker = Literal["user", "assistant"]
# "next_step": stated as a next step or reminder; "commitment": the user commits, or is told they must;
# "suggestion": advice, kept only when it has a due date.
Kind = Literal["next_step", "commitment", "suggestion"]


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
    # A last touch on a description in this language (German: no leading article, no "zu" infinitive).
    tidy: Callable[[str], str] = str.strip


def date_rule(tail: str) -> Callable[[str, Resolver], DatePattern]:
    """A maker of date patterns for one language: a phrase that starts a word, then the language's `tail`
    ("morning", "at the latest", ...), resolved by `resolve`."""
    return lambda pattern, resolve: DatePattern(rx(r"(?<!\w)" + pattern + tail), resolve)


def rx(pattern: str) -> re.Pattern[str]:
    """Compile case-insensitively; a straight apostrophe in a pattern also matches a curly one."""
    return re.compile(pattern.replace("'", "['’]"), re.IGNORECASE)


def alternation(words: list[str]) -> str:
    return "(?:" + "|".join(words) + ")"


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
