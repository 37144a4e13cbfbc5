"""Per-language rules, one module per language, picked by the user's language code."""

from __future__ import annotations

from blocks.rules.engine import LanguageRules
from blocks.rules.languages import de, en, fr

ENGLISH, FRENCH, GERMAN = en.RULES, fr.RULES, de.RULES

RULES: dict[str, LanguageRules] = {rules.code: rules for rules in (ENGLISH, FRENCH, GERMAN)}


def rules_for(language_code: str | None) -> LanguageRules:
    """Rules for 'fr', 'fr-FR', 'FR'...; English for anything unknown."""
    return RULES.get((language_code or "en").strip().lower()[:2], ENGLISH)
