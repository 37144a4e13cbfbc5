"""The rule-based writer's words: dates, subjects and greetings of the daily email in each language.

The sentences are put together by one set of functions below; each language is data only: its texts, with
str.format fields, and (one, many) pairs where a number decides the form.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any

from blocks.rules.text import language_code_of

if TYPE_CHECKING:
    from blocks.llm_types import DailyEmailContext

Words = dict[str, Any]

# One entry per language the extractor has rules for: the writer's words, and the labels of the rendered mail.
# The body never says "nothing is due today": the mail's list says it once, below the greeting.
_WORDS: dict[str, Words] = {
    "en": {
        "weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        "months": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                   "October", "November", "December"],
        "day": "{weekday} {day} {month}",
        "justification": "It was due on {old}; moved to {new}, the next working day with the fewest open todos "
                      "({open}){earlier}.",
        "open_todos": "{n}",
        "earlier_moves": (", after {n} earlier move", ", after {n} earlier moves"),
        "subject": "Your todos for {day}",
        "subject_today": ": {n} today",
        "subject_moved": ", {n} moved",
        "greeting": "Good morning {name},",
        "greeting_unnamed": "Good morning,",
        "due_today": ("You have {n} todo for today.", "You have {n} todos for today."),
        "moved": ("{n} todo was moved since yesterday; the reasons are below.",
                  "{n} todos were moved since yesterday; the reasons are below."),
        "closing": "Have a good day!",
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
        "justification": "Prévue le {old} ; reportée au {new}, le prochain jour ouvré le moins chargé "
                      "({open}){earlier}.",
        "open_todos": ("{n} tâche ouverte", "{n} tâches ouvertes"),
        "earlier_moves": (", après {n} report", ", après {n} reports"),
        "subject": "Vos tâches du {day}",
        "subject_today": " : {n} aujourd'hui",
        "subject_moved": (", {n} reportée", ", {n} reportées"),
        "greeting": "Bonjour {name},",
        "greeting_unnamed": "Bonjour,",
        "due_today": ("Vous avez {n} tâche pour aujourd'hui.", "Vous avez {n} tâches pour aujourd'hui."),
        "moved": ("{n} tâche a été reportée depuis hier ; les raisons figurent ci-dessous.",
                  "{n} tâches ont été reportées depuis hier ; les raisons figurent ci-dessous."),
        "closing": "Bonne journée !",
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
        "justification": "Fällig war sie am {old}; verschoben auf {new}, den nächsten Werktag mit den wenigsten "
                      "offenen Aufgaben ({open}){earlier}.",
        "open_todos": "{n}",
        "earlier_moves": (", nach {n} früheren Verschiebung", ", nach {n} früheren Verschiebungen"),
        "subject": "Ihre Aufgaben für {day}",
        "subject_today": ": {n} heute",
        "subject_moved": ", {n} verschoben",
        "greeting": "Guten Morgen {name},",
        "greeting_unnamed": "Guten Morgen,",
        "due_today": ("Sie haben heute {n} Aufgabe.", "Sie haben heute {n} Aufgaben."),
        "moved": ("{n} Aufgabe wurde seit gestern verschoben; die Gründe stehen unten.",
                  "{n} Aufgaben wurden seit gestern verschoben; die Gründe stehen unten."),
        "closing": "Einen schönen Tag!",
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
        "justification": "Vencía el {old}; se pasó al {new}, el próximo día laborable con menos tareas abiertas "
                      "({open}){earlier}.",
        "open_todos": "{n}",
        "earlier_moves": (", tras {n} cambio anterior", ", tras {n} cambios anteriores"),
        "subject": "Tus tareas del {day}",
        "subject_today": ": {n} hoy",
        "subject_moved": (", {n} movida", ", {n} movidas"),
        "greeting": "Buenos días, {name}:",
        "greeting_unnamed": "Buenos días:",
        "due_today": ("Tienes {n} tarea para hoy.", "Tienes {n} tareas para hoy."),
        "moved": ("{n} tarea se movió desde ayer; los motivos están abajo.",
                  "{n} tareas se movieron desde ayer; los motivos están abajo."),
        "closing": "¡Que tengas un buen día!",
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
        "justification": "Scadeva {old}; spostata a {new}, il prossimo giorno lavorativo con meno attività aperte "
                      "({open}){earlier}.",
        "open_todos": "{n}",
        "earlier_moves": (", dopo {n} spostamento precedente", ", dopo {n} spostamenti precedenti"),
        "subject": "Le tue attività di {day}",
        "subject_today": ": {n} oggi",
        "subject_moved": (", {n} spostata", ", {n} spostate"),
        "greeting": "Buongiorno {name},",
        "greeting_unnamed": "Buongiorno,",
        "due_today": "Hai {n} attività per oggi.",
        "moved": ("{n} attività è stata spostata da ieri; i motivi sono qui sotto.",
                  "{n} attività sono state spostate da ieri; i motivi sono qui sotto."),
        "closing": "Buona giornata!",
        "labels": {
            "today": "Oggi", "rescheduled": "Spostate da ieri", "from_task": "da",
            "moved_from": "spostata da", "nothing_today": "Oggi non scade nulla.",
            "footer": "Ricevi questa email perché le email giornaliere delle attività sono attive nelle tue "
                      "impostazioni.",
        },
    },
}
LANGUAGES = tuple(_WORDS)
# Where zero takes the singular ("0 tâche ouverte"); elsewhere only one does.
_ZERO_IS_ONE = {"fr"}


def counted(forms: str | tuple[str, str], n: int, language: str, **values: object) -> str:
    """A text with `n` (and `values`) filled in: of a (one, many) pair, the form the language uses for n."""
    if isinstance(forms, tuple):
        forms = forms[0] if n == 1 or (n == 0 and language in _ZERO_IS_ONE) else forms[1]
    return forms.format(n=n, **values)


@functools.cache
def words_for(language_code: str | None) -> Words:
    """The offline writer's words for a language (English when unknown)."""
    language = language_code_of(language_code)
    language = language if language in _WORDS else "en"
    return dict(_WORDS[language], language=language)


def justification(words: Words, *, old: str, new: str, count: int, times: int) -> str:
    """Why a todo moved: its old and new day, the new day's open todos, and how often it moved before."""
    language = words["language"]
    earlier = counted(words["earlier_moves"], times - 1, language) if times > 1 else ""
    open_todos = counted(words["open_todos"], count, language)
    return words["justification"].format(old=old, new=new, open=open_todos, earlier=earlier)


def format_day(day: dt.date, words: Words) -> str:
    """'Tuesday 24 November' / 'mardi 24 novembre'."""
    return words["day"].format(weekday=words["weekdays"][day.weekday()], day=day.day, month=words["months"][day.month - 1])


def format_local_day(day: dt.date, language_code: str | None) -> str:
    """A date as the offline writer says it in the user's language: 'Tuesday 24 November'."""
    return format_day(day, words_for(language_code))


def write_daily_email(context: DailyEmailContext) -> dict[str, Any]:
    """Subject and greeting in the user's language: the day, how many todos are due and how many moved."""
    words = words_for(context.language_code)
    language = words["language"]
    name = context.user_name.split()[0] if context.user_name.strip() else ""
    today = len(context.today)
    moved = len(context.rescheduled) + sum(todo.previous_date is not None for todo in context.today)
    subject = words["subject"].format(day=format_day(context.local_date, words))
    news = []
    if today:
        subject += counted(words["subject_today"], today, language)
        news.append(counted(words["due_today"], today, language))
    if moved:
        subject += counted(words["subject_moved"], moved, language)
        news.append(counted(words["moved"], moved, language))
    greeting = words["greeting"].format(name=name) if name else words["greeting_unnamed"]
    paragraphs = (greeting, " ".join(news), words["closing"])
    return {"subject": subject, "body": "\n\n".join(p for p in paragraphs if p)}


def labels_for(language_code: str | None) -> dict[str, str]:
    """The headings and fixed lines of the rendered daily email in the user's language (English when unknown)."""
    return dict(words_for(language_code)["labels"])
