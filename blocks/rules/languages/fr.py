"""French rules: words and phrases, and a commitment in the future tense said as an infinitive;
blocks/rules/engine.py compiles them."""

from __future__ import annotations

import re

from blocks.rules.engine import A_FEW_WORDS, DateWords, LanguageWords, alternation, compile_rules, enumerated

MONTHS = (
    r"(?:janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre"
    r"|décembre|decembre|janv|févr|fevr|avr|juil|sept|oct|nov|déc|dec)\b\.?"
)
OPT = r"(?:(?:d'ici(?: à)?|avant|pour|jusqu'à|au plus tard|dès)\s+)?"
NUMBERS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
           "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "quinze": 15}
# "le 3e trimestre", "le 15h", "le 3 %" are not days; "le 3 décembre" is a full date.
NOT_A_DAY = rf"(?!\s*(?:{MONTHS}|\d|%|h\b|heures?\b|e\b|ème\b|€|k€|°))"
# "Prochaine étape : ...", "la prochaine étape est de ...", "ma prochaine étape, c'est d'...".
NEXT_STEP = rf"(?:{A_FEW_WORDS}\s*:|\s*(?:-|–|,?\s*(?:c')?est(?: de| d'|\s*:)?))"
# The assistant saying "je pense à une structure ..." or "je n'oublie pas de ..." speaks of itself.
NOT_AFTER_JE = r"(?<!je )(?<!j'y )(?<!on )(?<!nous )"

DATES = DateWords(
    language="fr",
    weekdays={"lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6},
    weekday=rf"{OPT}(?:(?:le|ce)\s+)?{{wd}}\b(?:\s+(?:prochain|qui vient))?",
    weekday_day=rf"\s+(?P<wday>1er|\d{{1,2}})\b(?!\s*h)(?:\s+(?P<wmonth>{MONTHS}))?",
    end_of_week=rf"{OPT}(?:la\s+)?(?:en\s+)?fin (?:de (?:la )?|de cette )semaine\b",
    end_of_next_week=rf"{OPT}(?:la\s+)?(?:en\s+)?fin de la semaine prochaine\b",
    end_of_month=rf"{OPT}(?:la\s+)?(?:en\s+)?fin (?:du|de) mois\b",
    today=rf"{OPT}(?:aujourd'hui|ce soir|dans la journée|(?:en\s+)?fin de journée)",
    full_date=rf"{OPT}(?:le\s+)?(?P<core>(?:1er|\d{{1,2}})\s+{MONTHS}(?:\s+\d{{4}})?)",
    day_of_month=rf"{OPT}le\s+(?P<day>1er|\d{{1,2}})\b{NOT_A_DAY}",
    next_week=rf"{OPT}(?:(?:au\s+)?début de\s+)?la semaine prochaine\b",
    relative=rf"{OPT}(?P<core>après-demain|demain|le mois prochain)",
    counted=rf"(?:d'ici|dans|sous)\s+(?P<n>\d+|{'|'.join(NUMBERS)})\s+(?P<unit>jours?|semaines?|mois)\b",
    numbers=NUMBERS,
    units={"j": "day", "s": "week", "m": "month"},
    idioms={"huit jours": 7, "quinze jours": 14},
    tail=r"(?:\s+(?:matin|midi|après-midi|soir|à\s+\d{1,2}\s*h(?:\s*\d{2})?))?(?:,?\s+(?:au plus tard|dernier délai))?",
)

# A qualifier after a comma says how, not what: it ends the step (", ideally ...").
QUALIFIERS = ["idéalement", "de préférence", "si possible", "si vous pouvez", "si tu peux", "dans l'idéal"]

# A verb in the future tense after "je" ("j'irai", "je ferai", "je passerai") commits the user as "I'll" does;
# being, having, being able, knowing, wanting, seeing and telling say no step.
NOT_A_STEP_FUTURES = ["serai", "aurai", "pourrai", "saurai", "voudrai", "verrai", "dirai", "devrai"]
FUTURE_COMMITMENT = rf"(?:je |j')(?!{alternation(NOT_A_STEP_FUTURES)}\b)(?=\w+rai\b)"
# Futures whose infinitive the endings do not give.
IRREGULAR_FUTURES = {
    "irai": "aller", "ferai": "faire", "enverrai": "envoyer", "renverrai": "renvoyer", "viendrai": "venir",
    "reviendrai": "revenir", "tiendrai": "tenir", "recevrai": "recevoir", "courrai": "courir",
    "appellerai": "appeler", "rappellerai": "rappeler", "achèterai": "acheter", "lirai": "lire", "relirai": "relire",
    "écrirai": "écrire", "inscrirai": "inscrire", "conduirai": "conduire", "mènerai": "mener", "amènerai": "amener",
    "ramènerai": "ramener", "emmènerai": "emmener",
}
FUTURE_FIRST = re.compile(r"^(\w+)rai\b", re.IGNORECASE)


def infinitive_of_future(stem: str) -> str:
    """The infinitive of a future's stem (the verb without "rai"): "passe" -> "passer", "fini" -> "finir",
    "prend" -> "prendre", "paie" -> "payer"."""
    if stem.endswith("ie") and stem[-3:-2] in ("a", "o", "u"):
        return stem[:-2] + "yer"
    return stem + ("r" if stem.endswith(("e", "i")) else "re")


def tidy(description: str) -> str:
    """A commitment in the future tense ("irai chercher le colis") reads as a note: "aller chercher le colis"."""
    match = FUTURE_FIRST.match(description)
    if match is None or len(match[1]) < 2 and match[0].casefold() not in IRREGULAR_FUTURES:
        return description.strip()
    future = match[0].casefold()
    verb = IRREGULAR_FUTURES.get(future) or infinitive_of_future(future[:-3])
    return (verb + description[match.end():]).strip()


RULES = compile_rules(LanguageWords(
    code="fr",
    tidy=tidy,
    user={
        "next_step": [
            r"(?:ma |la )?prochaine étape(?: pour moi)?" + NEXT_STEP,
            r"note (?:pour moi(?:-même)?|à moi-même)\s*:",
            r"à faire\s*:",
            r"rappel(?:le|ez)-moi (?:de|d')",
            r"(?:il faut que je |je dois |je vais )?penser à",
            r"(?:il ne faut pas que j'oublie|je ne dois pas oublier|ne pas oublier) (?:de|d')",
        ],
        "commitment": [
            r"je vais devoir",
            r"je vais",
            r"je dois",
            r"je devrai",
            r"il (?:faut|faudra|faudrait|va falloir) que (?:je|j')",
            r"je m'occupe (?:de|d')",
            r"je me charge (?:de|d')",
            r"je (?:compte|prévois|prevois)",
            r"je m'engage à",
            FUTURE_COMMITMENT,
        ],
    },
    assistant={
        "recap": [r"(?:récapitulatif|récap|en résumé|pour résumer|résumé)\s*:"],
        "next_step": [
            enumerated(["premièrement", "deuxièmement", "troisièmement", "quatrièmement",
                        "en premier lieu", "en second lieu"],
                       ["le", "la", "les", "l'", "un", "une", "il", "elle", "c'", "ce", "nous", "vous", "on"]),
            r"(?:votre |ta |la )?prochaine étape(?: pour vous| pour toi)?" + NEXT_STEP,
            r"rappel\s*:",
            r"à faire(?: pour vous)?\s*:",
            NOT_AFTER_JE + r"n'oubli(?:ez|e) pas (?:(?:non plus|aussi) )?(?:de|d')",
            NOT_AFTER_JE + r"pens(?:ez|e) (?:(?:bien|aussi|également|donc|surtout) )?à",
            NOT_AFTER_JE + r"veill(?:ez|e) à",
            r"assurez-vous (?:de|d')",
            r"assure-toi (?:de|d')",
        ],
        "commitment": [
            r"vous (?:devez|devrez|allez devoir|aurez à)",
            r"tu (?:dois|devras|vas devoir|auras à)",
            r"il (?:vous|te) (?:faut|faudra)",
            r"il (?:vous|te) reste (?:encore )?à",
            r"il (?:faut|faudra|va falloir) que (?:vous|tu)",
        ],
        "suggestion": [
            r"vous devriez",
            r"tu devrais",
            r"je (?:vous|te) (?:conseille|recommande|suggère) (?:de|d')",
        ],
    },
    filler=["et", "aussi", "ensuite", "puis", "d'abord", "bien", "encore", "absolument", "donc", "alors", "ok", "bon"],
    leading=["penser à", "ne pas oublier (?:de|d')", "bien penser à", "je vais", "je dois", "il faut que je",
             "il faut que j'"],
    first_person=["je", "j'", "nous", "on", "laissez-moi"],
    clause_words=["mais", "parce que", "parce qu'", "car", "puisque", "pour que", "afin que", "ce qui", "sinon", "autrement"],
    comma_clause_words=["c'est(?!-à-dire)", r"p\. ?ex\.", "par exemple", *QUALIFIERS],
    step_joiners=["et à", "et de", "et d'"],
    infinitive_endings="er|ir|re",
    trailing=["et", "ou", "puis", "au plus tard"],
    # Vous's imperative or an infinitive, then its object ("Prévenez votre banque", "Résilier le contrat").
    imperative=r"[a-zàâçéèêëîïôûù]+(?:ez|er|ir|re)(?=\s+(?:le|la|les|l'|un|une|des|du|votre|vos|ton|ta|tes|ce|cette"
               r"|ces|leur|leurs|à|au|aux|en|d'abord|dès|bien)(?!\w))",
    # "Je vais jamais signer ce contrat", "je vais pas appeler" (the "ne" left out, as people chat).
    negation_after=["jamais", "pas", "plus", "rien"],
    call_off=[r"(?:pas|plus) (?:la peine|besoin) d(?:e|')", r"inutile d(?:e|')", r"laisse[zr]? tomber",
              r"(?:je|j') n'ai plus besoin d(?:e|')", r"oublie[zr]? (?:pour|l'histoire d(?:e|u|'))"],
    # The step is an infinitive: "Tu peux me rappeler de quoi on a parlé ?" asks something else.
    reminder_request=[r"(?:(?:me|m') rappel(?:er|les?|ez)|rappel(?:le|ez)-moi) (?:de |d')(?=\s*\w+(?:er|ir|re|oir)\b)"],
    not_imperative=["entre", "contre", "notre", "votre", "autre", "pour", "sur", "par", "chez", "avez", "êtes",
                    "pouvez", "devez", "voulez", "savez", "allez", "assez", "chez", "hier", "premier", "dernier",
                    "cher", "mer", "fer", "hiver", "super", "lire", "dire", "rire", "faire attention", "être",
                    "ordre", "lettre", "titre", "centre", "livre", "libre", "offre", "chiffre", "membre", "nombre",
                    "montre", "semestre", "trimestre", "fenêtre", "filtre", "ministre", "mètre"],
    vague=["bien", "mieux", "voir", "y réfléchir", "être", "vous", "tu", "te", "dire", "avouer", "essayer"],
    heading_intro=["voici", "voilà", "ce sont"],
    heading_owners=["vos", "tes", "mes", "les"],
    heading_names=["prochaines? étapes?", "actions? à mener", "à faire", "todo"],
    heading_for="pour (?:vous|toi|moi)",
    deadline_words=["avant", "d'ici"],
    restating_words=["c'est-à-dire", "soit"],
    dates=DATES,
))
