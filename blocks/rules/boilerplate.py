"""The offline relevance check of website chunks: site chrome is not content."""

from __future__ import annotations

import re

BOILERPLATE_PHRASES = re.compile(
    r"cookies?\b|all rights reserved|©|\(c\) \d{4}|copyright|privacy (?:policy|notice)|terms of (?:use|service)"
    r"|subscribe|newsletter|sign (?:in|up)|log ?in\b|follow us|share (?:on|this)|skip to (?:main )?content"
    r"|back to top|datenschutz|impressum|alle rechte vorbehalten|mentions légales|tous droits réservés"
    r"|politique de confidentialité|se connecter|abonnez-vous",
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"[.!?:;。！？…\"”»)]$")


def looks_like_boilerplate(chunk: str) -> bool:
    """Site chrome, not content: mostly boilerplate phrases, or a list of short link-like lines."""
    words = chunk.split()
    if not words:
        return True
    hits = len(BOILERPLATE_PHRASES.findall(chunk))
    # About one legal or navigation phrase every eight words: a footer, banner or login prompt.
    if hits and hits * 8 >= len(words):
        return True
    lines = [line.strip() for line in chunk.splitlines() if line.strip()]
    if len(lines) >= 4:
        short = sum(len(line.split()) <= 3 and not SENTENCE_END.search(line) for line in lines)
        if short / len(lines) >= 0.8:  # a menu: many short lines, none of them a sentence
            return True
    return False
