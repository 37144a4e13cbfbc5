"""Per-language rules, one module per language, picked by the user's language code."""

from __future__ import annotations

from blocks.llm_types import UnsupportedLanguage
from blocks.rules.engine import LanguageRules
from blocks.rules.languages import de, en, es, fr, it
from blocks.rules.text import language_code_of

RULES: dict[str, LanguageRules] = {rules.code: rules for rules in (en.RULES, fr.RULES, de.RULES, es.RULES, it.RULES)}
LANGUAGES = tuple(RULES)


def rules_for(language_code: str | None) -> LanguageRules:
    """Rules for 'fr', 'fr-FR', 'FR'... (English when no language is given); UnsupportedLanguage otherwise."""
    language = language_code_of(language_code)
    if language not in RULES:
        raise UnsupportedLanguage(language)
    return RULES[language]
