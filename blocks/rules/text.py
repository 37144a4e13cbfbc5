"""Lines, sentences and the one normalizer that decides when two todos are the same."""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

_BULLET = re.compile(r"^\s*(?:[-*•·▪‣]|\d{1,2}[.)]|\[[ xX]?\])\s+")
_MARKDOWN = re.compile(r"^\s*#+\s*|\*\*|__")


def split_lines(text: str) -> list[tuple[str, bool]]:
    """Non-empty lines with list markers and markdown emphasis removed, each with whether it was a bullet."""
    lines = []
    for raw in text.splitlines():
        is_bullet = bool(_BULLET.match(raw))
        line = _MARKDOWN.sub("", _BULLET.sub("", raw)).strip()
        if line:
            lines.append((line, is_bullet))
    return lines


# Abbreviations spaCy's tokenizer does not know in some languages: their full stop ends no sentence.
ABBREVIATIONS = {
    "en": ["approx.", "vs.", "cf.", "no."],
    "fr": ["M.", "MM.", "Mme.", "Mlle.", "Dr.", "Pr.", "Me.", "St.", "Ste.", "cf.", "env.", "etc.", "p.ex.", "av.",
           "janv.", "févr.", "avr.", "juil.", "sept.", "oct.", "nov.", "déc."],
    "de": ["Hr.", "Fr.", "Dr.", "Prof.", "z.B.", "bzw.", "ca.", "usw.", "ggf.", "inkl.", "Nr."],
    "es": ["Sr.", "Sra.", "Srta.", "Dr.", "Dra.", "Ud.", "Uds.", "aprox.", "p.ej."],
    "it": ["dott.", "dott.ssa", "sig.", "sig.ra", "sig.na", "ing.", "avv.", "prof.", "rag.", "geom.", "arch.", "ecc.",
           "es.", "dr."],
}


# French sentences go through spaCy's language-neutral pipeline: importing spaCy's French tokenizer
# exceptions took 9.5 s here (a regex of thousands of hyphenated words), the neutral one 0.1 s; the French
# abbreviations above give what sentence boundaries need.
SPACY_LANGUAGE = {"fr": "xx"}


@functools.cache
def _sentencizer(language: str) -> Any:
    """A blank spaCy pipeline with the rule-based sentencizer: its tokenizer knows each language's ordinals
    ("am 15. Januar") and common abbreviations; no model, nothing downloaded."""
    import spacy
    from spacy.symbols import ORTH

    nlp = spacy.blank(SPACY_LANGUAGE.get(language, language))
    tokenizer: Any = nlp.tokenizer
    for abbreviation in ABBREVIATIONS.get(language, []):
        for form in {abbreviation, abbreviation.capitalize()}:
            tokenizer.add_special_case(form, [{ORTH: form}])
    nlp.add_pipe("sentencizer")
    return nlp


def split_sentences(text: str, language_code: str | None = None) -> list[str]:
    """Split on line breaks, then into sentences with the language's sentencizer (English when unknown).

    A part starting in lower case still belongs to the sentence before ("Call Bob at 5 p.m. then ..."), and
    so does a part after an unclosed bracket ("(Smith et al., 2021)").
    """
    language = language_code_of(language_code)
    nlp = _sentencizer(language if language in ABBREVIATIONS else "en")
    sentences: list[str] = []
    for line, _ in split_lines(text):
        in_line: list[str] = []
        for part in (sentence.text.strip() for sentence in nlp(line).sents):
            if in_line and (part[:1].islower() or in_line[-1].count("(") > in_line[-1].count(")")):
                in_line[-1] = f"{in_line[-1]} {part}"
            elif part:
                in_line.append(part)
        sentences.extend(in_line)
    return sentences


def language_code_of(language_code: str | None) -> str:
    """'fr' for 'fr', 'fr-FR', 'FR'...; 'en' when not given."""
    return (language_code or "en").strip().lower()[:2] or "en"


# Words that do not change what a todo asks: articles, prepositions, pronouns, particles ("zu").
STOP_WORDS = {
    "en": "the a an to for of on in at by with and my your our their me you us it this that these those s all every "
          "each",
    "fr": "le la les l un une des de du d au aux a pour par en et sur avec mon ma mes ton ta tes votre vos "
          "notre nos leur leurs ce cet cette ces tous toutes tout chaque",
    "de": "der die das den dem des ein eine einen einem einer eines zu zum zur fur mit und an am im in auf von "
          "vom bei beim mein meine meinen ihr ihre ihren dein deine deinen unser unsere alle allen aller jede jeden",
    "es": "el la los las lo un una unos unas de del al a para por en y con mi mis tu tus su sus nuestro nuestra todos "
          "todas cada",
    "it": "il lo la i gli le l un uno una di del dello della dei degli delle al allo alla ai agli alle a da "
          "dal dalla per in nel nella con e su sul sulla mio mia miei mie tuo tua tuoi tue suo sua tutti tutte ogni",
}
_STOP_WORDS = {language: set(words.split()) for language, words in STOP_WORDS.items()}
# Inflection endings stripped from each word (longest first) when at least three letters remain: imperative,
# infinitive, plural, participle and noun forms of one word give one stem ("relance" = "relancer",
# "validation" = "valider", "consegna" = "consegnare").
SUFFIXES = {
    "en": ("ations", "ation", "ing", "ed", "es", "s", "e"),
    "fr": ("ations", "ation", "erons", "eront", "erez", "ions", "ent", "ait", "ais", "er", "ez", "ee", "es", "e", "s"),
    "de": ("ungen", "ung", "ern", "en", "er", "em", "es", "st", "e", "n", "s", "t"),
    "es": ("aciones", "acion", "iendo", "ando", "ados", "adas", "ado", "ada", "ar", "er", "ir", "as", "os", "es", "a",
           "o", "e", "s"),
    "it": ("azioni", "azione", "ando", "endo", "are", "ere", "ire", "ato", "ata", "ati", "ate", "i", "a", "o", "e"),
}
# German infinitives with an infixed "zu" ("einzufügen" = "einfügen").
# German separable prefixes, with and without umlauts ("hochzuladen" = "hochladen").
GERMAN_PREFIXES = (
    "ab|an|auf|aus|bei|dar|durch|ein|fest|fort|frei|her|heraus|herunter|hin|hinzu|hoch|los|mit|nach|um|vor|vorbei"
    "|weg|weiter|wieder|zurück|zuruck|zusammen"
)
_GERMAN_ZU = re.compile(rf"^({GERMAN_PREFIXES})zu(\w{{3,}})$")


def _stem(word: str, language: str) -> str:
    if language == "de":
        word = _GERMAN_ZU.sub(r"\1\2", word)
    for suffix in SUFFIXES.get(language, ()):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def normalize_description(text: str, language_code: str | None = None) -> str:
    """The key that decides when two todos are the same step: the same words whatever their inflection,
    articles, accents, punctuation or order.

    Casefolded and accent-free words, without the language's stop words, stemmed by a light suffix rule and
    sorted ("Die Broschüren beim Drucker bestellen" = "Broschüren beim Drucker bestellen";
    "Relance l'imprimeur" = "Relancer l'imprimeur"). Negations are kept.
    """
    language = language_code_of(language_code)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    words = re.findall(r"\w+", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    content = [word for word in words if word not in _STOP_WORDS.get(language, set())] or words
    return " ".join(sorted({_stem(word, language) for word in content}))
