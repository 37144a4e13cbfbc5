"""Spanish rules: words and phrases only; blocks/rules/engine.py compiles them."""

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

# First persons whose infinitive is not the stem and "-ar"; those of -er and -ir verbs by their stem.
IRREGULAR = {
    "hago": "hacer", "pongo": "poner", "digo": "decir", "traigo": "traer", "salgo": "salir", "pido": "pedir",
    "sigo": "seguir", "consigo": "conseguir", "elijo": "elegir", "recojo": "recoger", "cojo": "coger",
    "escojo": "escoger", "vuelvo": "volver", "devuelvo": "devolver", "resuelvo": "resolver", "muevo": "mover",
    "cierro": "cerrar", "empiezo": "empezar", "pruebo": "probar", "compruebo": "comprobar", "cuento": "contar",
    "encuentro": "encontrar", "renuevo": "renovar", "recuerdo": "recordar", "envío": "enviar", "leo": "leer",
    "veo": "ver", "repito": "repetir", "sirvo": "servir", "mido": "medir", "corrijo": "corregir",
    "friego": "fregar", "riego": "regar", "enciendo": "encender", "entiendo": "entender", "ofrezco": "ofrecer",
    "agradezco": "agradecer", "conozco": "conocer", "reconozco": "reconocer", "traduzco": "traducir",
    "conduzco": "conducir", "produzco": "producir", "introduzco": "introducir",
}
ER_IR = {
    "escrib": "escribir", "sub": "subir", "abr": "abrir", "imprim": "imprimir", "vend": "vender",
    "respond": "responder", "corresp": "corresponder", "met": "meter", "aprend": "aprender", "com": "comer",
    "beb": "beber", "recib": "recibir", "decid": "decidir", "describ": "describir", "divid": "dividir",
    "cumpl": "cumplir", "añad": "añadir", "barr": "barrer", "cos": "coser", "romp": "romper", "cubr": "cubrir",
    "descubr": "descubrir", "reescrib": "reescribir", "ced": "ceder", "exig": "exigir", "escog": "escoger",
    "rellen": "rellenar", "reun": "reunir", "insist": "insistir", "asist": "asistir", "discut": "discutir",
    "permit": "permitir", "transmit": "transmitir", "admit": "admitir", "debat": "debatir",
}
# Verbs whose present tells a state or a wish, not a step, even with a date.
STATES = {"tengo", "necesito", "quiero", "puedo", "sé", "soy", "estoy", "creo", "espero", "prefiero", "quedo",
          "debo", "suelo", "sigo", "llevo", "paso", "dejo"}


def infinitive(verb: str) -> str | None:
    """"contrato" -> "contratar", "hago" -> "hacer", "escribo" -> "escribir"; None for a state ("lo tengo")."""
    if verb in STATES:
        return None
    return IRREGULAR.get(verb) or ER_IR.get(verb[:-1]) or verb[:-1] + "ar"


# "el seguro lo contrato antes del lunes", "El informe se lo mando a Lucía el martes", "al casero le escribo".
TOPIC = re.compile(
    r"^(?:(?:y|vale|va|bueno|ah|pues|entonces|ok)[,\s]+)*"
    r"(?P<np>(?:el|la|los|las|lo de|al|a la|a los|a las|a)\s[^,;:?]{1,60}?)\s+(?:(?:se|me)\s+)?"
    r"(?:lo|la|los|las|le|les)\s+(?P<verb>[a-záéíóúñ]+o)\b(?:\s+yo\b)?(?P<rest>[^,;?]*)",
    re.IGNORECASE,
)

MONTHS = (
    r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre"
    r"|diciembre)\b"
)
OPT = r"(?:(?:antes del?|para el|hasta el|a más tardar el|como muy tarde el|el)\s+)?"
NUMBERS = {"un": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
           "nueve": 9, "diez": 10, "quince": 15}
# "el 3 %", "el 2º piso", "el 15:00" are not days; "el 3 de diciembre" is a full date.
NOT_A_DAY = rf"(?!\s*(?:de\s+{MONTHS}|\d|%|º|ª|h\b|:|€))"
NEXT_STEP = rf"(?:{A_FEW_WORDS}\s*:|\s*(?:-|–|,?\s*es\s*:?))"
ADVERB = r"(?:(?:también|además|primero|luego|ya) )?"

DATES = DateWords(
    language="es",
    weekdays={"lunes": 0, "martes": 1, "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4, "sábado": 5,
              "sabado": 5, "domingo": 6},
    weekday=rf"{OPT}(?:(?:el\s+)?próximo\s+)?{{wd}}\b(?:\s+(?:que viene|próximo))?",
    weekday_day=rf",?\s+(?:día\s+)?(?P<wday>\d{{1,2}})\b(?![:.h]\d)(?:\s+de\s+(?P<wmonth>{MONTHS}))?",
    end_of_week=r"(?:(?:a|para|antes de)\s+)?(?:finales|fin) de (?:esta )?semana\b",
    end_of_next_week=r"(?:(?:a|para|antes de)\s+)?(?:finales|fin) de la (?:semana que viene|próxima semana)\b",
    end_of_month=r"(?:(?:a|para|antes de)\s+)?(?:finales|fin) de(?:l| este)? mes\b",
    today=r"(?:(?:para\s+)?hoy|esta (?:mañana|tarde|noche))\b",
    full_date=rf"{OPT}(?P<core>\d{{1,2}}\s+de\s+{MONTHS}(?:\s+de\s+\d{{4}})?)",
    day_of_month=rf"(?:antes del|para el|hasta el|el)\s+(?P<day>\d{{1,2}})\b{NOT_A_DAY}",
    next_week=r"(?:(?:para|antes de|a principios de)\s+)?(?:la semana que viene|la próxima semana)\b",
    relative=r"(?:(?:para|antes de)\s+)?(?P<core>pasado mañana|mañana|el mes que viene|el próximo mes)\b",
    counted=rf"(?:dentro de|en)\s+(?P<n>\d+|{'|'.join(NUMBERS)})\s+(?P<unit>días|dias|día|semanas?|mes(?:es)?)\b",
    numbers=NUMBERS,
    units={"d": "day", "s": "week", "m": "month"},
    tail=r"(?:\s+(?:por la (?:mañana|tarde|noche)|a las?\s+\d{1,2}(?::\d{2})?))?(?:,?\s+como muy tarde)?",
)

# A qualifier after a comma says how, not what: it ends the step (", ideally ...").
QUALIFIERS = ["idealmente", "preferiblemente", "preferentemente", "a ser posible", "si es posible", "si puede(?:s)?"]

RULES = compile_rules(LanguageWords(
    restate=topic_restater(TOPIC, "Voy a", infinitive),
    code="es",
    user={
        "next_step": [
            r"(?:mi |el )?(?:próximo|siguiente) paso(?: para mí)?" + NEXT_STEP,
            r"nota para mí(?: mismo| misma)?\s*:",
            r"pendiente\s*:",
            r"recuérdame",
            r"no (?:debo|puedo|tengo que) olvidar(?:me de)?",
            r"tengo que acordarme de",
        ],
        "commitment": [
            rf"{ADVERB}(?:voy a tener que|tendré que|tengo que|he de)",
            rf"{ADVERB}(?:debo|necesito|voy a|pienso|me toca)",
            r"me (?:encargo|ocupo) de",
            r"me comprometo a",
        ],
    },
    assistant={
        "recap": [r"(?:resumen|recapitulando|en resumen)\s*:"],
        "next_step": [
            enumerated(["primero", "segundo", "tercero",
                        "en primer lugar", "en segundo lugar", "en tercer lugar"],
                       ["el", "la", "los", "las", "un", "una", "es", "hay", "nosotros"]),
            r"(?:tu |su |el )?(?:próximo|siguiente) paso(?: para ti| para usted)?" + NEXT_STEP,
            r"recordatorio\s*:",
            r"no (?:olvides|olvide|te olvides de|se olvide de)",
            r"(?:recuerda|recuerde|acuérdate de|acuérdese de)",
            r"(?:asegúrate|asegúrese) de",
        ],
        "commitment": [
            rf"{ADVERB}(?:tienes|tiene|tendrás|tendrá|vas a tener|va a tener) que",
            rf"{ADVERB}(?:debes|debe|necesitas|necesita)",
            r"hay que",
            # Impersonal obligations: "le toca pedir ...", "conviene avisar ...".
            r"(?:te|le|os|les) toca",
            r"(?:te |le )?conviene",
            r"(?:solo|sólo) (?:te|le) queda",
            r"(?:te|le) queda(?: todavía| aún)? por",
        ],
        "suggestion": [
            r"(?:deberías|debería)",
            r"(?:te|le) (?:recomiendo|sugiero|aconsejo)",
        ],
    },
    filler=["y", "también", "además", "luego", "después", "primero", "entonces", "pues", "vale", "bueno", "ya"],
    leading=["tengo que", "voy a", "debo", "necesito", "hay que"],
    first_person=["yo", "nosotros", "déjame", "te (?:envío|mando|preparo)", "puedo"],
    clause_words=["pero", "porque", "ya que", "para que", "aunque", "lo que", "cuando", "si no", "o si no", "de lo contrario"],
    comma_clause_words=[r"p\. ?ej\.", "por ejemplo", *QUALIFIERS],
    trailing=["y", "o", "luego", "como muy tarde"],
    # Tú's or usted's imperative, clitics and all ("Avisa a tu banco", "Contrátalo cuanto antes", "Pide hoy").
    imperative=r"(?:[a-záéíóúñ]*[áéíó][a-záéíóúñ]*(?:lo|la|los|las|le|les|me|te|se|nos)(?!\w)"
               r"|[a-záéíóúñ]+[ae](?=\s+(?:el|la|los|las|un|una|unos|unas|tu|tus|su|sus|a|al|hoy|ya|cuanto|ahora"
               r"|también|primero)(?!\w)))",
    # "No tienes que llamar al banco", "No te hace falta", "No lo necesitas renovar".
    negation_before=["no", "nunca", "tampoco"],
    clitics=["me", "te", "se", "nos", "os", "lo", "la", "los", "las", "le", "les"],
    call_off=[r"(?:ya )?no hace falta", r"olv[ií]da(?:te|lo)? (?:de|lo de)", r"(?:ya )?no (?:necesito|tengo que)",
              r"d[eé]jalo", r"cancela lo de"],
    # The step is an infinitive: "¿Me recuerdas qué dijimos?" asks something else.
    reminder_request=[r"(?:me (?:recuerdas|recuerda|puedes recordar|podrías recordar)|recordarme)(?: de| que)?"
                      r"(?=\s+\w+(?:ar|er|ir)(?:lo|la|le|los|las|me|te|se)?\b)"],
    not_imperative=["para", "hasta", "desde", "entre", "sobre", "cada", "esta", "este", "ese", "esa", "una", "otra",
                    "toda", "nada", "mucha", "poca", "alguna", "ninguna", "como", "donde", "mientras", "ante", "bajo",
                    "contra", "que", "porque", "aunque", "siempre", "bueno", "claro", "vale", "genial", "perfecto",
                    "hola", "gracias", "la", "le", "se", "me", "te", "de", "en", "ya", "mira", "oye", "tiene",
                    "hace", "parece", "queda", "falta", "sale", "cuesta", "existe", "depende", "importa", "basta",
                    "ocurre", "pasa", "llega", "empieza", "suele", "puede", "debe", "quiere", "sabe", "viene", "va",
                    "está", "es", "era", "fue", "sea", "hay", "ahora", "entonces", "luego", "después", "también",
                    "pues", "encima", "fuera", "dentro", "cerca", "lejos", "tarde", "noche", "mañana", "semana",
                    "empresa", "persona", "idea", "cosa", "parte", "manera", "forma", "vida", "casa", "caso",
                    "cuenta", "gente", "madre", "padre", "clase", "base", "tarde", "frase", "lo", "la"],
    vague=["bien", "ver", "pensarlo", "ser", "estar", "decir", "intentar(?:lo)?"],
    heading_intro=["aquí tienes", "aquí tiene", "aquí van", "estos son"],
    heading_owners=["tus", "sus", "mis", "los"],
    heading_names=["próximos pasos", "siguientes pasos", "tareas", "pendientes"],
    heading_for="para (?:ti|usted|mí)",
    deadline_words=["antes del?"],
    restating_words=["es decir", "o sea"],
    # "avisar al seguro y hacer fotos": "y" before an infinitive joins two steps.
    step_joiners=["y"],
    infinitive_endings="ar|er|ir",
    dates=DATES,
))
