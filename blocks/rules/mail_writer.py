"""The rule-based writer's words: dates, subjects and greetings of the daily email in each language."""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any

import jinja2

if TYPE_CHECKING:
    from blocks.llm import DailyEmailContext

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
def words_for(language_code: str | None) -> dict[str, Any]:
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
    return format_day(day, words_for(language_code))


def write_daily_email(context: DailyEmailContext) -> dict[str, Any]:
    """Subject and greeting from a per-language jinja2 template."""
    words = words_for(context.language_code)
    values = {
        "name": context.user_name.split()[0] if context.user_name.strip() else "",
        "day": format_day(context.local_date, words),
        "today": len(context.today),
        "moved": len(context.rescheduled) + sum(todo.previous_date is not None for todo in context.today),
    }
    return {"subject": words["subject"].render(values), "body": words["body"].render(values)}
