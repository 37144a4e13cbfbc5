"""Spanish rules."""

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

NUMBERS = {"un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
           "nueve": 9, "diez": 10, "quince": 15}


def build() -> LanguageRules:
    weekdays = {"lunes": 0, "martes": 1, "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4,
                "sábado": 5, "sabado": 5, "domingo": 6}
    months = (
        r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre"
        r"|diciembre)\b"
    )
    opt = r"(?:(?:antes del?|para el|hasta el|a más tardar el|como muy tarde el|el)\s+)?"
    number = r"(?:\d+|" + "|".join(NUMBERS) + ")"
    tail = r"(?:\s+(?:por la (?:mañana|tarde|noche)|a las?\s+\d{1,2}(?::\d{2})?))?(?:,?\s+como muy tarde)?"
    # "el 3 %", "el 2º piso", "el 15:00" are not days; "el 3 de diciembre" is a full date.
    not_a_day = rf"(?!\s*(?:de\s+{months}|\d|%|º|ª|h\b|:|€))"
    next_step = r"\s*(?::|-|–|,?\s*es\s*:?)"
    adverb = r"(?:(?:también|además|primero|luego|ya) )?"

    date = date_rule(tail)

    return LanguageRules(
        code="es",
        triggers={
            "user": trigger_regex(
                next_step=[
                    r"(?:mi |el )?(?:próximo|siguiente) paso(?: para mí)?" + next_step,
                    r"nota para mí(?: mismo| misma)?\s*:",
                    r"pendiente\s*:",
                    r"recuérdame",
                    r"no (?:debo|puedo|tengo que) olvidar(?:me de)?",
                    r"tengo que acordarme de",
                ],
                commitment=[
                    rf"{adverb}(?:voy a tener que|tendré que|tengo que|he de)",
                    rf"{adverb}(?:debo|necesito|voy a|pienso|me toca)",
                    r"me (?:encargo|ocupo) de",
                    r"me comprometo a",
                ],
            ),
            "assistant": trigger_regex(
                next_step=[
                    r"(?:tu |su |el )?(?:próximo|siguiente) paso(?: para ti| para usted)?" + next_step,
                    r"recordatorio\s*:",
                    r"(?:resumen|recapitulando|en resumen)\s*:",
                    r"no (?:olvides|olvide|te olvides de|se olvide de)",
                    r"(?:recuerda|recuerde|acuérdate de|acuérdese de)",
                    r"(?:asegúrate|asegúrese) de",
                ],
                commitment=[
                    rf"{adverb}(?:tienes|tiene|tendrás|tendrá|vas a tener|va a tener) que",
                    rf"{adverb}(?:debes|debe|necesitas|necesita)",
                    r"hay que",
                ],
                suggestion=[
                    r"(?:deberías|debería)",
                    r"(?:te|le) (?:recomiendo|sugiero|aconsejo)",
                ],
            ),
        },
        leading_noise=rx(
            r"^(?:(?:y|también|además|luego|después|primero|entonces|pues|vale|bueno|ya)\b[,:]?\s*"
            r"|(?:tengo que|voy a|debo|necesito|hay que)\s+)"
        ),
        first_person=rx(r"^(?:yo\b|nosotros\b|déjame\b|te (?:envío|mando|preparo)\b|puedo\b)"),
        clause_end=rx(r"\s*(?:;|\s[—–-]\s|,?\s+(?:pero|porque|ya que|para que|aunque|lo que)\b)"),
        trailing_noise=rx(r"(?:[\s,;:.!?…]+|\s+(?:y|o|luego|como muy tarde))+$"),
        vague=rx(r"^(?:bien|ver|pensarlo|ser|estar|decir|intentar(?:lo)?)\b"),
        heading=rx(
            r"^(?:tus |sus |mis |los )?(?:próximos pasos|siguientes pasos|tareas|pendientes)"
            r"(?: para (?:ti|usted|mí))?\s*:?$"
        ),
        dates=(
            date(
                rf"{opt}(?:(?:el\s+)?próximo\s+)?(?P<wd>{alternation(list(weekdays))})\b"
                r"(?:\s+(?:que viene|próximo))?",
                weekday_resolver(weekdays),
            ),
            date(r"(?:(?:a|para|antes de)\s+)?(?:finales|fin) de (?:esta )?semana\b", fixed(end_of_week)),
            date(r"(?:(?:a|para|antes de)\s+)?(?:finales|fin) de(?:l| este)? mes\b", fixed(end_of_month)),
            date(r"(?:(?:para\s+)?hoy|esta (?:mañana|tarde|noche))\b", fixed(today)),
            date(rf"{opt}(?P<core>\d{{1,2}}\s+de\s+{months}(?:\s+de\s+\d{{4}})?)", with_dateparser("es")),
            date(rf"(?:antes del|para el|hasta el|el)\s+(?P<day>\d{{1,2}})\b{not_a_day}", day_of_month),
            date(
                r"(?:(?:para|antes de)\s+)?(?P<core>pasado mañana|mañana|la semana que viene|la próxima semana"
                r"|el mes que viene|el próximo mes)\b",
                with_dateparser("es"),
            ),
            date(
                rf"(?:dentro de|en)\s+(?P<n>{number})\s+(?P<unit>días|dias|día|semanas?|mes(?:es)?)\b",
                counted(NUMBERS, {"d": "day", "s": "week", "m": "month"}),
            ),
        ),
    )


RULES = build()
