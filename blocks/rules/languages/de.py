"""German rules: words and phrases, and the German shape of a note (no leading article, a plain infinitive);
blocks/rules/engine.py compiles them."""

from __future__ import annotations

import re

from blocks.rules.engine import A_FEW_WORDS, DateWords, LanguageWords, compile_rules, enumerated
from blocks.rules.text import GERMAN_PREFIXES

ARTICLE = re.compile(r"^(?:der|die|das|den|dem|des|ein|eine|einen)\s+", re.IGNORECASE)
# "die Hotelzimmer zu reservieren" -> "Hotelzimmer reservieren"; "den Link einzufügen" -> "Link einfügen".
ZU_INFINITIVE = re.compile(rf"\bzu\s+(\w+)$|\b({GERMAN_PREFIXES})zu(\w{{3,}}en)$")


def tidy(description: str) -> str:
    """A todo as a German note reads: no leading article, a plain infinitive at the end."""
    text = ARTICLE.sub("", description.strip())
    return ZU_INFINITIVE.sub(lambda m: m[1] or f"{m[2]}{m[3]}", text)


# Verbs whose present says no step even with a date: having, becoming, wanting, believing, working, staying.
NOT_A_STEP_VERBS = ["habe", "hatte", "werde", "wurde", "möchte", "mochte", "wollte", "sollte", "musste", "konnte",
                    "durfte", "glaube", "hoffe", "denke", "finde", "meine", "brauche", "hätte", "wäre", "würde",
                    "arbeite", "bleibe", "freue"]
# The stems of the verbs a to-do starts with; said so, without their "e", as people chat ("mach ich", "ruf … an").
TODO_STEMS = ["mach", "schreib", "ruf", "schick", "buch", "bestell", "kauf", "meld", "frag", "such", "notier",
              "beantrag", "kümmer", "klär", "prüf", "füll", "leg", "druck", "unterschreib", "überweis", "reservier",
              "besorg", "hol", "bring", "sag", "plan", "erledig", "fang"]
SECOND_VERB = re.compile(rf"\bund\s+(?:{'|'.join(TODO_STEMS)})e?\W*$", re.IGNORECASE)
# "<what> <verb>e ich <when> [<particle>]": the verb in the first person before "ich", its particle at the end;
# after a clause and its comma, the verb may come first ("Und wenn die sich nicht rühren, frag ich am Montag nach").
INVERTED_PRESENT = re.compile(
    rf"^(?:[^,]*,\s+)?(?P<front>[^,]*?)\s*(?<!\w)(?!(?:{'|'.join(NOT_A_STEP_VERBS)})\s)"
    rf"(?P<verb>[a-zäöüß]+e|(?i:{'|'.join(TODO_STEMS)}))\s+ich\s+(?P<rest>.*?)"
    # What follows a comma is left out, unless the verb's particle ends it ("am Donnerstag, den 26., zurück").
    rf"(?:,?\s+(?P<particle>{GERMAN_PREFIXES}))?(?:[,;:]\s(?!.*\s(?:{GERMAN_PREFIXES})[.!]*$).*|(?P<end>[.!]*))$"
)


def restate(sentence: str) -> str:
    """What the user does, in the present with the verb before "ich", as a commitment: "Die Leihräder hole ich
    am 29. zurück" -> "Ich werde Die Leihräder am 29. zurückholen"."""
    match = INVERTED_PRESENT.match(sentence.strip())
    if match is None:
        return sentence
    if SECOND_VERB.search(match["rest"]):
        return sentence  # "druck ich heute Abend aus und unterschreib": two verbs, no one infinitive
    stem = match["verb"].lower()
    verb = f"{match['particle'] or ''}{stem}{'n' if stem.endswith('e') else 'en'}"
    return " ".join(f"Ich werde {match['front']} {match['rest']} {verb}{match['end'] or '.'}".split())


MONTHS = r"(?:januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember)\b"
OPT = r"(?:(?:bis zum|bis|am|vor|spätestens|zum)\s+)?"
# An adverb between the verb and the rest ("Denken Sie auch daran", "Sie müssen noch").
ADVERB = r"(?: (?:auch|außerdem|noch|bitte|unbedingt|zudem))?"
NUMBERS = {"einem": 1, "einer": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8,
           "neun": 9, "zehn": 10}

DATES = DateWords(
    language="de",
    weekdays={"montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5, "sonntag": 6},
    # "am Dienstag, den 29.," and "Montag, 4. Januar": the day of the month in apposition goes with the weekday.
    weekday=rf"{OPT}(?:(?:nächsten|kommenden|diesen)\s+)?{{wd}}\b",
    weekday_day=rf",?\s+(?:den\s+)?(?P<wday>\d{{1,2}})\.(?:\s*(?P<wmonth>{MONTHS}))?,?",
    weekdays_short={"mo": 0, "di": 1, "mi": 2, "do": 3, "fr": 4, "sa": 5, "so": 6},
    weekday_short=r"(?:bis|am|vor|spätestens)\s+{wd}\.",
    end_of_week=rf"{OPT}(?:ende der woche|wochenende)\b",
    end_of_next_week=rf"{OPT}ende (?:der nächsten|der kommenden|nächster|kommender) woche\b",
    end_of_month=rf"{OPT}ende des monats\b",
    today=r"(?:bis\s+)?heute(?:\s+(?:früh|morgen|vormittag|mittag|nachmittag|abend|nacht))?\b",
    full_date=rf"{OPT}(?P<core>\d{{1,2}}\.?\s+{MONTHS}(?:\s+\d{{4}})?)",
    # dateparser reads neither "am 3." nor "nächsten Dienstag".
    day_of_month=rf"(?:bis zum|am|zum)\s+(?P<day>\d{{1,2}})\.(?!\s*{MONTHS})(?!\d)",
    next_week=r"(?:(?:bis|in der|anfang)\s+)?(?:nächste|kommende)n? woche\b",
    # "morgen früh", "morgen Abend": the time of day goes with the day.
    relative=r"(?:bis\s+)?(?P<core>übermorgen|morgen|nächsten monat)\b(?:\s+(?:früh|vormittag|mittag|nachmittag|abend)\b)?",
    counted=rf"(?:in|innerhalb von)\s+(?P<n>\d+|{'|'.join(NUMBERS)})\s+(?P<unit>tagen|wochen|monaten)\b",
    numbers=NUMBERS,
    units={"t": "day", "w": "week", "m": "month"},
    tail=r"(?:\s+(?:vormittag|nachmittag|abend|um\s+\d{1,2}(?::\d{2})?\s*uhr))?(?:,?\s+spätestens)?",
)

# A qualifier after a comma says how, not what: it ends the step (", ideally ...").
QUALIFIERS = ["idealerweise", "möglichst", "am besten", "wenn möglich", "vorzugsweise", "falls möglich"]

RULES = compile_rules(LanguageWords(
    code="de",
    tidy=tidy,
    restate=restate,
    user={
        "next_step": [
            rf"(?:mein |der )?nächster schritt{A_FEW_WORDS}\s*:",
            r"notiz an mich\s*:",
            r"erinnere mich(?: daran)?,?",
            r"ich darf nicht vergessen,?",
        ],
        "commitment": [
            r"ich (?:werde|muss|sollte|will)(?: (?:auch|außerdem|dann))?",
            # After whatever opens the sentence the verb comes first: "Für die Feier muss ich noch ...".
            rf"(?:muss|werde|sollte) ich{ADVERB}",
        ],
    },
    assistant={
        "recap": [r"(?:zusammenfassung|zusammengefasst|kurz gesagt)\s*:"],
        "next_step": [
            enumerated(["erstens", "zweitens", "drittens", "viertens"]),
            rf"(?:ihr |dein |der )?nächster schritt{A_FEW_WORDS}\s*:",
            rf"vergessen sie{ADVERB} nicht,?",
            rf"vergiss{ADVERB} nicht,?",
            rf"denken sie{ADVERB} daran,?",
            rf"denk{ADVERB} daran,?",
            r"erinnerung\s*:",
        ],
        # "Außerdem müssen Sie ...", "Als Erstes sollten Sie ...": the verb comes before its subject.
        "commitment": [rf"(?:sie müssen|du musst|müssen sie|musst du){ADVERB}"],
        "suggestion": [rf"(?:sie sollten|du solltest|sollten sie|solltest du){ADVERB}"],
    },
    filler=["und", "auch", "dann", "zuerst", "noch", "bitte", "also", "außerdem"],
    leading=["ich (?:werde|muss)"],
    first_person=["ich", "wir", "lassen sie mich"],
    clause_words=["aber", "weil", "da", "damit", "sodass", "sonst", "ansonsten", "andernfalls"],
    comma_clause_words=[r"z\. ?B\.", "zum Beispiel", *QUALIFIERS],
    trailing=["und", "oder", "dann", "spätestens"],
    # Sie's imperative, or du's for the verbs a to-do starts with ("Schicken Sie die Mängelanzeige", "Ruf die AOK an").
    imperative=rf"(?:\w+en(?=\s+Sie\b)|(?:{'|'.join([*TODO_STEMS, 'nimm', 'gib', 'vergiss'])})e?\b"
               r"(?!\s+(?:ich|wir|du|er|sie|es)\b))",
    # "da musst du nicht lange warten", "Sie müssen keinen Antrag stellen", "Ich muss das nicht mehr zahlen".
    negation_after=["nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals"],
    negation_kept=["vergessen"],
    negation_anywhere=True,
    call_off=[r"vergiss(?: das mit| die sache mit)?(?! nicht\b)", r"(?:das )?(?:ist )?nicht mehr nötig,?",
              r"lass (?:das|die sache) mit"],
    # The step is a "zu" infinitive: "Kannst du mich erinnern, was wir gesagt haben?" asks something else.
    reminder_request=[r"(?:(?:mich|uns) (?:daran )?erinnern|erinnerst du mich(?: daran)?),?(?=[^?]*(?:\bzu \w+|\w+zu\w+en)\b)"],
    not_imperative=["haben", "sind", "können", "müssen", "sollten", "werden", "wollen", "dürfen", "möchten",
                    "würden", "wären", "hätten"],
    vague=["sie", "es", "mal sehen", "sehen", r"(?:das|dies|alles)\s+\w+\W*$"],
    heading_intro=["hier sind", "das sind"],
    heading_owners=["ihre", "deine", "meine", "die"],
    heading_names=["nächsten? schritte", "to-?dos?", "aufgaben"],
    heading_for="für (?:sie|dich|mich)",
    deadline_words=["vor", "bis"],
    restating_words=[r"d\. ?h\.", "das heißt", "also"],
    dates=DATES,
))
