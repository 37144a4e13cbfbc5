"""French rules."""

from __future__ import annotations

from blocks.rules.dates import (
    day_of_month,
    end_of_month,
    end_of_week,
    fixed,
    relative,
    today,
    weekday_resolver,
    with_dateparser,
)
from blocks.rules.engine import LanguageRules, alternation, date_rule, rx, trigger_regex


def build() -> LanguageRules:
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

    date = date_rule(tail)

    return LanguageRules(
        code="fr",
        triggers={
            "user": trigger_regex(
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
            "assistant": trigger_regex(
                next_step=[
                    r"(?:votre |ta |la )?prochaine étape(?: pour vous| pour toi)?" + next_step,
                    r"rappel\s*:",
                    r"(?:récapitulatif|récap|en résumé|pour résumer|résumé)\s*:",
                    r"à faire(?: pour vous)?\s*:",
                    not_after_je + r"n'oubli(?:ez|e) pas (?:(?:non plus|aussi) )?(?:de|d')",
                    not_after_je + r"pens(?:ez|e) (?:(?:bien|aussi|également|donc|surtout) )?à",
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
        leading_noise=rx(
            r"^(?:(?:et|aussi|ensuite|puis|d'abord|bien|encore|absolument|donc|alors|ok|bon)\b[,:]?\s*"
            r"|(?:penser à|ne pas oublier (?:de|d')|bien penser à)\s*"
            r"|je vais\s+|je dois\s+|il faut que je\s+|il faut que j')"
        ),
        first_person=rx(r"^(?:je\b|j'|nous\b|on\b|laissez-moi\b)"),
        clause_end=rx(
            r"\s*(?:;|\s[—–-]\s|,\s+c'est\b|,?\s+(?:mais|parce que|parce qu'|car|puisque|pour que|afin que|ce qui)\b)"
        ),
        trailing_noise=rx(r"(?:[\s,;:.!?…]+|\s+(?:et|ou|puis|au plus tard))+$"),
        vague=rx(r"^(?:bien|mieux|voir|y réfléchir|être|vous|tu|te|dire|avouer|essayer)\b"),
        heading=rx(
            r"^(?:vos |tes |mes |les )?(?:prochaines? étapes?|actions? à mener|à faire|todo)"
            r"(?: pour (?:vous|toi|moi))?\s*:?$"
        ),
        dates=(
            date(
                rf"{opt}(?:(?:le|ce)\s+)?(?P<wd>{alternation(list(weekdays))})\b"
                r"(?:\s+(?:prochain|qui vient))?",
                weekday_resolver(weekdays),
            ),
            date(rf"{opt}(?:la\s+)?(?:en\s+)?fin (?:de (?:la )?|de cette )semaine\b", fixed(end_of_week)),
            date(rf"{opt}(?:la\s+)?(?:en\s+)?fin (?:du|de) mois\b", fixed(end_of_month)),
            date(rf"{opt}(?:aujourd'hui|ce soir|dans la journée|(?:en\s+)?fin de journée)", fixed(today)),
            date(rf"{opt}(?:le\s+)?(?P<core>(?:1er|\d{{1,2}})\s+{months}(?:\s+\d{{4}})?)", with_dateparser("fr")),
            date(rf"{opt}le\s+(?P<day>1er|\d{{1,2}})\b{not_a_day}", day_of_month),
            date(
                rf"{opt}(?P<core>après-demain|demain|la semaine prochaine|le mois prochain)",
                with_dateparser("fr"),
            ),
            # dateparser cannot read "dans quinze jours"; "huit jours" means a week, not eight days.
            date(
                rf"(?:d'ici|dans|sous)\s+(?P<n>{number})\s+(?P<unit>jours?|semaines?|mois)\b",
                relative("fr", "dans", idioms={"huit jours": 7, "quinze jours": 14}),
            ),
        ),
    )


RULES = build()
