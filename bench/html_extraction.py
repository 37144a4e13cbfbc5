"""Main-text extraction on ../shared/data/html: trafilatura (what tasks/text.py uses) vs partition_html.

Prints per file: seconds, characters kept, and markers of boilerplate kept / text lost. unstructured
wants the spaCy model en_core_web_sm, which is not installed (and must not be downloaded): this script
gives it a blank English pipeline with a sentencizer, for the measurement only.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HTML = Path(__file__).resolve().parents[2] / "shared" / "data" / "html"

# (file, text that must be kept, boilerplate that must be dropped)
CHECKS = {
    "fake-html-with-footer-and-header.html": (["My first paragraph"], ["Footer"]),
    "fake-html-lang-de.html": (["Jahresabschluss zum Geschäftsjahr"], []),
    "fake-html-cp1252.html": (["Die schöne Frau", "15,50 €", "L'été"], []),
    "example-with-scripts.html": (["Russian Offensive Campaign Assessment"], ["function(", "var ", "Subscribe", "Donate"]),
    "ideas-page.html": (["good ideas"], []),
    "example-10k.html": (["ANNUAL REPORT", "Risk Factors"], ["<td", "display:none"]),
}


def _blank_spacy() -> None:
    import spacy
    from unstructured.nlp import tokenize

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    tokenize._get_nlp.cache_clear()
    tokenize._get_nlp = lambda: nlp  # type: ignore[assignment]


def with_unstructured(raw: bytes) -> str:
    from unstructured.partition.html import partition_html

    from tasks.text import decode_html

    return "\n".join(str(e) for e in partition_html(text=decode_html(raw, None)))


def main() -> None:
    from tasks.text import extract_main_text

    _blank_spacy()
    extractors = {"trafilatura": lambda raw: extract_main_text(raw, None).text, "partition_html": with_unstructured}
    totals = {name: [0.0, 0, 0] for name in extractors}  # seconds, boilerplate kept, text lost
    for name, extract in extractors.items():
        for file in CHECKS:  # warm-up: imports, caches, first-use costs
            extract((HTML / file).read_bytes())
        for file, (keep, drop) in CHECKS.items():
            raw = (HTML / file).read_bytes()
            started = time.perf_counter()
            text = extract(raw)
            seconds = time.perf_counter() - started
            lost = [k for k in keep if k.lower() not in text.lower()]
            kept = [d for d in drop if d.lower() in text.lower()]
            totals[name][0] += seconds
            totals[name][1] += len(kept)
            totals[name][2] += len(lost)
            print(f"{name:15} {file:40} {seconds:6.2f}s {len(text):7} chars  boilerplate kept {kept}  lost {lost}")
    for name, (seconds, kept, lost) in totals.items():
        print(f"{name:15} total {seconds:.2f}s, boilerplate markers kept {kept}, text markers lost {lost}")


if __name__ == "__main__":
    main()
