"""The sentence model unstructured asks for, without its run-time download of en_core_web_sm."""

from __future__ import annotations

import threading
from typing import Any

# Auxiliaries and modals: nearly every English sentence of running text has one of these or a
# past / -ing form, which is all unstructured's narrative-text check asks of a tagger.
_VERB_WORDS = frozenset(
    [
        "is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "do", "does", "did", "can",
        "could", "will", "would", "shall", "should", "may", "might", "must", "provides", "provide", "includes",
        "include", "uses", "use", "shows", "show", "makes", "make", "gives", "give",
    ]
)
_offline_lock = threading.Lock()
_offline_installed = False


def offline_sentence_model() -> Any:
    """A blank English spaCy pipeline with a sentencizer and a rule-based verb tagger (no download)."""
    import spacy
    from spacy.language import Language

    if "nightshift_verb_tagger" not in Language.factories:

        @Language.component("nightshift_verb_tagger")
        def _tag_verbs(doc: Any) -> Any:
            for token in doc:
                lower = token.lower_
                if lower in _VERB_WORDS:
                    token.tag_ = "VBZ"
                elif token.is_alpha and len(lower) > 4 and lower.endswith(("ed", "ing")):
                    token.tag_ = "VBD" if lower.endswith("ed") else "VBG"
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("nightshift_verb_tagger")
    return nlp


def use_offline_sentence_model() -> None:
    """Give unstructured a sentence model without its run-time download of en_core_web_sm.

    When en_core_web_sm is installed as a package it is used as unstructured intends; otherwise
    unstructured would download it, and offline its PDF partitioning silently returns nothing.
    """
    global _offline_installed
    with _offline_lock:
        if _offline_installed:
            return
        import spacy.util
        import unstructured.nlp.tokenize as tokenize

        if not spacy.util.is_package("en_core_web_sm"):
            nlp = offline_sentence_model()
            tokenize._get_nlp = lambda: nlp  # type: ignore[assignment]  # unstructured's cached loader, replaced
        _offline_installed = True
