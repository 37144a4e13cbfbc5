"""The rule-based writer's words: dates, subjects and greetings of the daily email in each language."""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any

import jinja2

from blocks.rules.text import language_code_of

if TYPE_CHECKING:
    from blocks.llm_types import DailyEmailContext

# Plain text (subjects, greetings, justifications): the HTML part is rendered and autoescaped by tasks/emails.
_TEMPLATES = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)  # noqa: S701

# One entry per language the extractor has rules for: the writer's words, and the labels of the rendered mail.
# The body never says "nothing is due today": the mail's list says it once, below the greeting.
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
                "{% if today %}You have {{ today }} todo{{ 's' if today > 1 }} for today.{% endif %}"
                "{% if moved %} {{ moved }} todo{{ 's were' if moved > 1 else ' was' }} moved since yesterday; "
                "the reasons are below.{% endif %}\n\nHave a good day!",
        "labels": {
            "today": "Today", "rescheduled": "Moved since yesterday", "from_task": "from",
            "moved_from": "moved from", "nothing_today": "Nothing is due today.",
            "footer": "You receive this email because daily todo emails are on in your settings.",
        },
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
                "{% if today %}Vous avez {{ today }} tâche{{ 's' if today > 1 }} pour aujourd'hui.{% endif %}"
                "{% if moved %} {{ moved }} tâche{{ 's ont été reportées' if moved > 1 else ' a été reportée' }} "
                "depuis hier ; les raisons figurent ci-dessous.{% endif %}\n\nBonne journée !",
        "labels": {
            "today": "Aujourd'hui", "rescheduled": "Reportées depuis hier", "from_task": "issue de",
            "moved_from": "reportée du", "nothing_today": "Rien n'est prévu aujourd'hui.",
            "footer": "Vous recevez ce message car les e-mails quotidiens de tâches sont activés dans vos réglages.",
        },
    },
    "de": {
        "weekdays": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
        "months": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                   "Oktober", "November", "Dezember"],
        "day": "{weekday}, {day}. {month}",
        "reschedule": "Fällig war sie am {{ old }}; verschoben auf {{ new }}, den nächsten Werktag mit den "
                      "wenigsten offenen Aufgaben ({{ count }}){% if times > 1 %}, nach {{ times - 1 }} "
                      "früheren Verschiebung{{ 'en' if times > 2 }}{% endif %}.",
        "subject": "Ihre Aufgaben für {{ day }}{% if today %}: {{ today }} heute{% endif %}"
                   "{% if moved %}, {{ moved }} verschoben{% endif %}",
        "body": "Guten Morgen{% if name %} {{ name }}{% endif %},\n\n"
                "{% if today %}Sie haben heute {{ today }} Aufgabe{{ 'n' if today > 1 }}.{% endif %}"
                "{% if moved %} {{ moved }} Aufgabe{{ 'n wurden' if moved > 1 else ' wurde' }} seit gestern "
                "verschoben; die Gründe stehen unten.{% endif %}\n\nEinen schönen Tag!",
        "labels": {
            "today": "Heute", "rescheduled": "Seit gestern verschoben", "from_task": "aus",
            "moved_from": "verschoben vom", "nothing_today": "Heute ist nichts fällig.",
            "footer": "Sie erhalten diese E-Mail, weil die täglichen Aufgaben-E-Mails in Ihren Einstellungen "
                      "aktiviert sind.",
        },
    },
    "es": {
        "weekdays": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
        "months": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
                   "octubre", "noviembre", "diciembre"],
        "day": "{weekday} {day} de {month}",
        "reschedule": "Vencía el {{ old }}; se pasó al {{ new }}, el próximo día laborable con menos tareas "
                      "abiertas ({{ count }}){% if times > 1 %}, tras {{ times - 1 }} cambio{{ 's' if times > 2 }} "
                      "anterior{{ 'es' if times > 2 }}{% endif %}.",
        "subject": "Tus tareas del {{ day }}{% if today %}: {{ today }} hoy{% endif %}"
                   "{% if moved %}, {{ moved }} movida{{ 's' if moved > 1 }}{% endif %}",
        "body": "Buenos días{% if name %}, {{ name }}{% endif %}:\n\n"
                "{% if today %}Tienes {{ today }} tarea{{ 's' if today > 1 }} para hoy.{% endif %}"
                "{% if moved %} {{ moved }} tarea{{ 's se movieron' if moved > 1 else ' se movió' }} desde ayer; "
                "los motivos están abajo.{% endif %}\n\n¡Que tengas un buen día!",
        "labels": {
            "today": "Hoy", "rescheduled": "Movidas desde ayer", "from_task": "de",
            "moved_from": "movida desde el", "nothing_today": "Hoy no vence nada.",
            "footer": "Recibes este correo porque los correos diarios de tareas están activados en tu configuración.",
        },
    },
    "it": {
        "weekdays": ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"],
        "months": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
                   "ottobre", "novembre", "dicembre"],
        "day": "{weekday} {day} {month}",
        "reschedule": "Scadeva {{ old }}; spostata a {{ new }}, il prossimo giorno lavorativo con meno attività "
                      "aperte ({{ count }}){% if times > 1 %}, dopo {{ times - 1 }} "
                      "spostament{{ 'i' if times > 2 else 'o' }} precedent{{ 'i' if times > 2 else 'e' }}{% endif %}.",
        "subject": "Le tue attività di {{ day }}{% if today %}: {{ today }} oggi{% endif %}"
                   "{% if moved %}, {{ moved }} spostat{{ 'e' if moved > 1 else 'a' }}{% endif %}",
        "body": "Buongiorno{% if name %} {{ name }}{% endif %},\n\n"
                "{% if today %}Hai {{ today }} attività per oggi.{% endif %}"
                "{% if moved %} {{ moved }} attività {{ 'sono state spostate' if moved > 1 else 'è stata spostata' }} "
                "da ieri; i motivi sono qui sotto.{% endif %}\n\nBuona giornata!",
        "labels": {
            "today": "Oggi", "rescheduled": "Spostate da ieri", "from_task": "da",
            "moved_from": "spostata da", "nothing_today": "Oggi non scade nulla.",
            "footer": "Ricevi questa email perché le email giornaliere delle attività sono attive nelle tue "
                      "impostazioni.",
        },
    },
}
LANGUAGES = tuple(_WORDS)


@functools.cache
def words_for(language_code: str | None) -> dict[str, Any]:
    """The offline writer's words for a language (English when unknown), templates compiled once."""
    words = dict(_WORDS.get(language_code_of(language_code), _WORDS["en"]))
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
    paragraphs = (paragraph.strip() for paragraph in words["body"].render(values).split("\n\n"))
    return {"subject": words["subject"].render(values), "body": "\n\n".join(p for p in paragraphs if p)}


def labels_for(language_code: str | None) -> dict[str, str]:
    """The headings and fixed lines of the rendered daily email in the user's language (English when unknown)."""
    return dict(words_for(language_code)["labels"])
