"""Italian rules: words and phrases only; blocks/rules/engine.py compiles them."""

from __future__ import annotations

import re

from blocks.rules.engine import (
    A_FEW_WORDS,
    DateWords,
    LanguageWords,
    compile_rules,
    enumerated,
    topic_restater,
)

# First persons whose infinitive is not the stem and "-are" ("-isco" verbs end in "-ire").
IRREGULAR = {
    "faccio": "fare", "vado": "andare", "dico": "dire", "vengo": "venire", "tengo": "tenere", "esco": "uscire",
    "prendo": "prendere", "riprendo": "riprendere", "scrivo": "scrivere", "chiedo": "chiedere", "metto": "mettere",
    "leggo": "leggere", "vedo": "vedere", "rivedo": "rivedere", "rispondo": "rispondere", "apro": "aprire",
    "sento": "sentire", "parto": "partire", "riempio": "riempire", "do": "dare", "ricevo": "ricevere",
    "discuto": "discutere", "chiudo": "chiudere", "decido": "decidere", "risolvo": "risolvere",
    "scelgo": "scegliere", "tolgo": "togliere", "raccolgo": "raccogliere", "accendo": "accendere",
    "spengo": "spegnere", "vendo": "vendere", "spendo": "spendere", "rendo": "rendere", "offro": "offrire",
    "copro": "coprire", "scopro": "scoprire", "seguo": "seguire", "servo": "servire", "dormo": "dormire",
    "converto": "convertire", "invio": "inviare", "bevo": "bere", "traduco": "tradurre", "conduco": "condurre",
    "riscrivo": "riscrivere", "trascrivo": "trascrivere", "iscrivo": "iscrivere", "permetto": "permettere",
    "rimetto": "rimettere", "smetto": "smettere", "promuovo": "promuovere", "muovo": "muovere",
}
# Verbs whose present tells a state or a wish, not a step, even with a date.
STATES = {"ho", "so", "posso", "voglio", "devo", "credo", "penso", "spero", "sono", "sto", "conosco", "preferisco",
          "capisco", "ricordo", "lascio", "tengo"}


def infinitive(verb: str) -> str | None:
    """"prenoto" -> "prenotare", "faccio" -> "fare", "spedisco" -> "spedire"; None for a state ("lo so")."""
    if verb in STATES or verb.endswith("iamo"):  # "le facciamo": we, not the user alone
        return None
    if verb in IRREGULAR:
        return IRREGULAR[verb]
    return verb[:-4] + "ire" if verb.endswith("isco") else verb[:-1] + "are"


# "il bollo lo pago stasera", "L'iscrizione la faccio venerdì", "Le detrazioni le verifico domani".
TOPIC = re.compile(
    r"^(?:(?:e|ok|sì|si|va bene|allora|poi|ah)[,\s]+)*"
    r"(?P<np>(?:il|lo|la|i|gli|le|un|una|uno|al|allo|alla|ai|agli|alle|a)\s[^,;:?]{1,60}?|(?:l'|all'|un')\w[^,;:?]{0,60}?)"
    r"\s+(?:(?:me|te|glie)\s*)?(?:lo|la|li|le|gli|ne|l')\s*(?P<verb>[a-zàèéìòù]+o)\b(?:\s+io\b)?(?P<rest>[^,;?]*)",
    re.IGNORECASE,
)

MONTHS = (
    r"(?:gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre"
    r"|dicembre)\b"
)
# "entro il 5 febbraio": the preposition and the article both go with the date.
OPT = r"(?:(?:entro|per|prima di|di)\s+)?(?:il\s+)?"
NUMBERS = {"un": 1, "uno": 1, "una": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6, "sette": 7,
           "otto": 8, "nove": 9, "dieci": 10, "quindici": 15}
# "il 3 %", "il 2° piano", "il 15:00" are not days; "il 3 dicembre" is a full date.
NOT_A_DAY = rf"(?!\s*(?:{MONTHS}|\d|%|°|º|:|€))"
NEXT_STEP = rf"(?:{A_FEW_WORDS}\s*:|\s*(?:-|–|,?\s*è\s*:?))"
ADVERB = r"(?:(?:anche|poi|prima|inoltre|ancora) )?"
REMINDER_ADVERB = r"(?: (?:anche|bene|poi|sempre))?"  # "Ricordati anche di ..."

DATES = DateWords(
    language="it",
    weekdays={"lunedì": 0, "lunedi": 0, "martedì": 1, "martedi": 1, "mercoledì": 2, "mercoledi": 2, "giovedì": 3,
              "giovedi": 3, "venerdì": 4, "venerdi": 4, "sabato": 5, "domenica": 6},
    weekday=rf"{OPT}{{wd}}(?!\w)(?:\s+prossim[oa])?",
    weekday_day=rf",?\s+(?P<wday>\d{{1,2}})\b(?![:.]\d)(?:\s+(?P<wmonth>{MONTHS}))?",
    end_of_week=r"(?:(?:entro|per)\s+)?(?:la\s+)?fine (?:della |di questa )?settimana\b",
    end_of_next_week=r"(?:(?:entro|per)\s+)?(?:la\s+)?fine della (?:settimana prossima|prossima settimana)\b",
    end_of_month=r"(?:(?:entro|per)\s+)?(?:la\s+)?fine (?:del |di questo )?mese\b",
    today=r"(?:(?:entro|per)\s+)?(?:oggi|stasera|in giornata)\b",
    full_date=rf"{OPT}(?P<core>\d{{1,2}}\s+{MONTHS}(?:\s+\d{{4}})?)",
    day_of_month=rf"(?:entro il|per il|prima del|il)\s+(?P<day>\d{{1,2}})\b{NOT_A_DAY}",
    next_week=r"(?:(?:entro|per)\s+)?(?:all'inizio della|la)\s+(?:settimana prossima|prossima settimana)\b",
    relative=r"(?:(?:entro|per)\s+)?(?P<core>dopodomani|domani|il mese prossimo|il prossimo mese)\b",
    counted=rf"(?:tra|fra|entro)\s+(?P<n>\d+|{'|'.join(NUMBERS)})\s+(?P<unit>giorni|giorno|settimane?|mes[ei])\b",
    numbers=NUMBERS,
    units={"g": "day", "s": "week", "m": "month"},
    tail=r"(?:\s+(?:mattina|pomeriggio|sera|alle\s+\d{1,2}(?::\d{2})?))?(?:,?\s+al più tardi)?",
)

# A qualifier after a comma says how, not what: it ends the step (", ideally ...").
QUALIFIERS = ["idealmente", "preferibilmente", "possibilmente", "se possibile", "se (?:puoi|può)"]

RULES = compile_rules(LanguageWords(
    restate=topic_restater(TOPIC, "Devo", infinitive),
    code="it",
    user={
        "next_step": [
            r"(?:il mio |il )?prossimo passo(?: per me)?" + NEXT_STEP,
            r"nota per me\s*:",
            r"da fare\s*:",
            r"ricordami di",
            r"non devo dimenticare di",
            r"devo ricordarmi di",
        ],
        "commitment": [
            rf"{ADVERB}(?:devo|dovrò|dovro)(?: anche)?",
            r"ho bisogno di",
            r"mi (?:occupo|incarico) (?:io )?di",
            r"ho intenzione di",
            r"mi tocca",
            r"bisogna che (?:io )?",
        ],
    },
    assistant={
        "recap": [r"(?:riepilogo|riepilogando|in sintesi|riassumendo)\s*:"],
        "next_step": [
            enumerated(["primo", "secondo", "terzo", "in primo luogo", "in secondo luogo", "in terzo luogo"],
                       ["il", "lo", "la", "i", "gli", "le", "l'", "un", "una", "è", "c'è", "noi"]),
            r"(?:il tuo |il suo |il )?prossimo passo(?: per te| per lei)?" + NEXT_STEP,
            r"promemoria\s*:",
            rf"non (?:dimenticare|dimentichi|scordarti|si scordi){REMINDER_ADVERB} di",
            rf"(?:ricordati|si ricordi|ricorda){REMINDER_ADVERB} di",
            r"(?:assicurati|si assicuri) di",
        ],
        "commitment": [
            rf"{ADVERB}(?:devi|deve|dovrai|dovrà|dovra)(?: anche)?",
            r"(?:hai|ha) bisogno di",
            r"bisogna",
            r"occorre",
            r"(?:ti|le) (?:resta|rimane)(?: solo)? da",
        ],
        "suggestion": [
            r"(?:dovresti|dovrebbe)",
            r"(?:ti|le) (?:consiglio|suggerisco) di",
        ],
    },
    filler=["e", "anche", "ancora", "poi", "inoltre", "prima", "quindi", "allora", "ok", "bene"],
    leading=["devo", "dovrò", "ho bisogno di"],
    first_person=["io", "noi", "lasciami", "posso", "ti (?:mando|preparo|scrivo)"],
    clause_words=["ma", "perché", "poiché", "affinché", "anche se", "il che", "quando", "altrimenti", "se no", "sennò"],
    comma_clause_words=[r"ad es\.", "ad esempio", "per esempio", *QUALIFIERS],
    step_joiners=["e di", "e a", "e d'"],
    infinitive_endings="are|ere|ire|arsi|ersi|irsi",
    trailing=["e", "o", "poi", "al più tardi", "entro", "cioè"],
    # Tu's imperative or an infinitive, then its object ("Chiedi a Marco", "Aggiorna il template").
    imperative=r"[a-zàèéìòù]+(?:a|i|are|ere|ire)(?:lo|la|li|le|gli|mi|ti|ci|si|ne)?(?=\s+(?:il|lo|la|i|gli|le|l'"
               r"|un|uno|una|un'|a|al|allo|alla|ai|agli|alle|tuo|tua|tuoi|tue|subito|oggi|anche|prima)(?!\w))",
    # "Non devi chiamare la banca", "Non la devi pagare", "Non ti serve".
    negation_before=["non", "mai"],
    clitics=["mi", "ti", "ci", "vi", "si", "lo", "la", "li", "le", "gli", "ne"],
    call_off=[r"non (?:serve|c'è bisogno di) più", r"non serve", r"non c'è (?:più )?bisogno di", r"lascia (?:perdere|stare)",
              r"dimentica(?:ti)?(?: di| quello di)?"],
    # The step is an infinitive: "Mi ricordi di cosa abbiamo parlato?" asks something else.
    reminder_request=[r"(?:mi (?:ricordi|ricorderesti|puoi ricordare|potresti ricordare)|ricordarmi) di"
                      r"(?=\s+\w+(?:are|ere|ire)(?:lo|la|li|le|mi|ti|ci|si|ne)?\b)"],
    not_imperative=["questa", "quella", "ogni", "ancora", "sempre", "prima", "dopo", "tra", "fra", "per", "ma",
                    "come", "quando", "se", "anche", "poi", "molto", "tutta", "tutti", "alcuni", "altri", "qualche",
                    "ora", "allora", "grazie", "ciao", "bene", "ottima", "perfetta", "brava", "bravi", "dunque",
                    "infatti", "quindi", "cosa", "una", "la", "le", "gli", "mi", "ti", "ci", "si", "vi", "ne", "di",
                    "da", "in", "con", "su", "a", "e", "o", "conviene", "serve", "basta", "bisogna", "manca",
                    "costa", "dipende", "sembra", "resta", "scade", "arriva", "parte", "chiude", "sei", "hai",
                    "stai", "vai", "fai", "puoi", "devi", "vuoi", "sai", "oggi", "domani", "sera", "mattina",
                    "settimana", "persona", "idea", "casa", "vita", "volta", "parte", "forse", "magari", "davvero",
                    "meglio", "peggio", "finalmente", "purtroppo", "eccoti", "ecco", "guarda", "senti", "pensa",
                    "cerca di", "fammi", "dimmi"],
    vague=["bene", "vedere", "pensarci", "essere", "stare", "dire", "provare(?:ci)?"],
    heading_intro=["ecco", "questi sono"],
    heading_owners=["i tuoi", "i suoi", "i miei", "i"],
    heading_names=["prossimi passi", "passi successivi", "cose da fare", "da fare", "attività"],
    heading_for="per (?:te|lei|me)",
    deadline_words=[r"prima d\w*", "entro"],
    restating_words=["cioè", "ossia", "ovvero"],
    dates=DATES,
))
