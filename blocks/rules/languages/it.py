"""Italian rules."""

from __future__ import annotations

from blocks.rules.dates import (
    counted,
    day_of_month,
    end_of_month,
    end_of_week,
    fixed,
    today,
    weekday_resolver,
    with_dateparser,
)
from blocks.rules.engine import LanguageRules, alternation, date_rule, rx, trigger_regex

NUMBERS = {"un": 1, "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7,
           "otto": 8, "nove": 9, "dieci": 10, "quindici": 15}


def build() -> LanguageRules:
    weekdays = {"lunedì": 0, "lunedi": 0, "martedì": 1, "martedi": 1, "mercoledì": 2, "mercoledi": 2,
                "giovedì": 3, "giovedi": 3, "venerdì": 4, "venerdi": 4, "sabato": 5, "domenica": 6}
    months = (
        r"(?:gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre"
        r"|dicembre)\b"
    )
    opt = r"(?:(?:entro|per|prima di|di|il)\s+)?"
    number = r"(?:\d+|" + "|".join(NUMBERS) + ")"
    tail = r"(?:\s+(?:mattina|pomeriggio|sera|alle\s+\d{1,2}(?::\d{2})?))?(?:,?\s+al più tardi)?"
    # "il 3 %", "il 2° piano", "il 15:00" are not days; "il 3 dicembre" is a full date.
    not_a_day = rf"(?!\s*(?:{months}|\d|%|°|º|:|€))"
    next_step = r"\s*(?::|-|–|,?\s*è\s*:?)"
    adverb = r"(?:(?:anche|poi|prima|inoltre|ancora) )?"

    date = date_rule(tail)

    return LanguageRules(
        code="it",
        triggers={
            "user": trigger_regex(
                next_step=[
                    r"(?:il mio |il )?prossimo passo(?: per me)?" + next_step,
                    r"nota per me\s*:",
                    r"da fare\s*:",
                    r"ricordami di",
                    r"non devo dimenticare di",
                    r"devo ricordarmi di",
                ],
                commitment=[
                    rf"{adverb}(?:devo|dovrò|dovro)(?: anche)?",
                    r"ho bisogno di",
                    r"mi (?:occupo|incarico) (?:io )?di",
                    r"ho intenzione di",
                    r"mi tocca",
                    r"bisogna che (?:io )?",
                ],
            ),
            "assistant": trigger_regex(
                next_step=[
                    r"(?:il tuo |il suo |il )?prossimo passo(?: per te| per lei)?" + next_step,
                    r"promemoria\s*:",
                    r"(?:riepilogo|riepilogando|in sintesi|riassumendo)\s*:",
                    r"non (?:dimenticare|dimentichi|scordarti|si scordi) di",
                    r"(?:ricordati|si ricordi|ricorda) di",
                    r"(?:assicurati|si assicuri) di",
                ],
                commitment=[
                    rf"{adverb}(?:devi|deve|dovrai|dovrà|dovra)(?: anche)?",
                    r"(?:hai|ha) bisogno di",
                    r"bisogna",
                ],
                suggestion=[
                    r"(?:dovresti|dovrebbe)",
                    r"(?:ti|le) (?:consiglio|suggerisco) di",
                ],
            ),
        },
        leading_noise=rx(
            r"^(?:(?:e|anche|poi|inoltre|prima|quindi|allora|ok|bene)\b[,:]?\s*"
            r"|(?:devo|dovrò|ho bisogno di)\s+)"
        ),
        first_person=rx(r"^(?:io\b|noi\b|lasciami\b|posso\b|ti (?:mando|preparo|scrivo)\b)"),
        clause_end=rx(r"\s*(?:;|\s[—–-]\s|,?\s+(?:ma|perché|poiché|affinché|anche se|il che)\b)"),
        trailing_noise=rx(r"(?:[\s,;:.!?…]+|\s+(?:e|o|poi|al più tardi))+$"),
        vague=rx(r"^(?:bene|vedere|pensarci|essere|stare|dire|provare(?:ci)?)\b"),
        heading=rx(
            r"^(?:i tuoi |i suoi |i miei |i )?(?:prossimi passi|passi successivi|cose da fare|da fare|attività)"
            r"(?: per (?:te|lei|me))?\s*:?$"
        ),
        dates=(
            date(
                rf"{opt}(?P<wd>{alternation(list(weekdays))})(?!\w)(?:\s+prossim[oa])?",
                weekday_resolver(weekdays),
            ),
            date(r"(?:(?:entro|per)\s+)?(?:la\s+)?fine (?:della |di questa )?settimana\b", fixed(end_of_week)),
            date(r"(?:(?:entro|per)\s+)?(?:la\s+)?fine (?:del |di questo )?mese\b", fixed(end_of_month)),
            date(r"(?:(?:entro|per)\s+)?(?:oggi|stasera|in giornata)\b", fixed(today)),
            date(rf"{opt}(?P<core>\d{{1,2}}\s+{months}(?:\s+\d{{4}})?)", with_dateparser("it")),
            date(rf"(?:entro il|per il|prima del|il)\s+(?P<day>\d{{1,2}})\b{not_a_day}", day_of_month),
            date(
                r"(?:(?:entro|per)\s+)?(?P<core>dopodomani|domani|la settimana prossima|la prossima settimana"
                r"|il mese prossimo|il prossimo mese)\b",
                with_dateparser("it"),
            ),
            date(
                rf"(?:tra|fra|entro)\s+(?P<n>{number})\s+(?P<unit>giorni|giorno|settimane?|mes[ei])\b",
                counted(NUMBERS, {"g": "day", "s": "week", "m": "month"}),
            ),
        ),
    )


RULES = build()
