"""The owner's mail about a document: plain words and what to do, never the technical error."""

from __future__ import annotations

import pytest

from tasks.emails.notices import ON_OUR_SIDE, document_notice, plain_failure, plain_warning

# Errors as tasks/pdf words them for the operators (source id, exception class, settings names).
TECHNICAL = [
    ("source 7: the PDF is encrypted (password-protected); upload an unprotected copy", "password"),
    ("source 7: the PDF is corrupt near page 1-16 (PSEOF: Unexpected EOF); re-export or repair it", "export it again"),
    ("source 7: the file is empty; upload the PDF again", "Upload it again"),
    ("source 7: not a PDF (no %PDF- header); upload a PDF file", "save the document as a PDF"),
    ("source 7: the PDF has 2,400 pages, over the limit of 2,000 (NIGHTSHIFT_PDF_MAX_PAGES); split it", "Split it"),
    ("source 7: pages 1-16 took longer than 120 s (NIGHTSHIFT_PDF_PARTITION_SECONDS)", "Split it"),
    ("source 7: no text found in the PDF (scanned images need strategy='hi_res' with OCR)", "text recognition"),
    ("OperationalError: (psycopg.OperationalError) connection to server at 127.0.0.1 failed", "nothing you need to do"),
    ('OperationalError: connection to server at "db" failed: FATAL: password authentication failed for user '
     '"nightshift"', "nothing you need to do"),
    ("source 7: the partition process of pages 1-16 was stopped; it may have run out of memory", "Split it"),
    (None, "nothing you need to do"),
]


@pytest.mark.parametrize(("error", "advice"), TECHNICAL)
def test_a_failure_is_told_in_plain_words_with_what_to_do(error: str | None, advice: str) -> None:
    message = document_notice("Ada Martin", "ada@example.com", "deck.pdf", ingested=False, error=error)
    body = message.get_content()
    assert message["Subject"] == "deck.pdf could not be added"
    assert advice in body
    for technical in ("source 7", "NIGHTSHIFT_", "Error", "psycopg", "PSEOF", "hi_res", "%PDF"):
        assert technical not in body, body


def test_an_unknown_failure_says_nothing_is_lost() -> None:
    assert plain_failure("KeyError: 'chunks'") == ON_OUR_SIDE


def test_a_ready_document_says_how_much_can_be_searched() -> None:
    message = document_notice("Ada Martin", "ada@example.com", "deck.pdf", ingested=True, pages=12, chunks=40)
    assert message["Subject"] == "deck.pdf is ready to search"
    assert "(12 pages)" in message.get_content() and "40 passages" in message.get_content()


@pytest.mark.parametrize(("share_read", "unread_pages", "said"), [
    (0.884, [], ["Only part of its text could be read (about 88%)"]),
    (None, [3], ["Page 3 is a scanned image"]),
    (None, [3, 9], ["Pages 3, 9 are scanned images"]),
    (None, [], ["Part of the document could not be read"]),  # a warning of another cause
])
def test_a_warning_is_told_in_plain_words(share_read: float | None, unread_pages: list[int], said: list[str]) -> None:
    paragraphs = plain_warning(share_read, unread_pages)
    assert len(paragraphs) == len(said) and all(p.startswith(s) for p, s in zip(paragraphs, said, strict=True))


def test_the_warnings_text_never_reaches_the_owner() -> None:
    warning = "source 7: 2 page(s) have no text layer and were not read (NIGHTSHIFT_PDF_OCR_MAX_PAGES): 3, 9"
    message = document_notice("Ada", "ada@example.com", "a.pdf", ingested=True, pages=9, chunks=4, warning=warning,
                              unread_pages=[3, 9])
    body = message.get_content()
    assert "Pages 3, 9 are scanned images" in body
    assert "NIGHTSHIFT_" not in body and "source 7" not in body


def test_counts_take_the_languages_singular_and_plural() -> None:
    french = document_notice("Ada", "ada@example.com", "a.pdf", ingested=True, pages=1, chunks=0, language="fr-FR")
    assert "a.pdf (1 page) est maintenant dans votre base de connaissances : 0 passage peut être retrouvé" \
        in french.get_content()
    german = document_notice("Ada", "ada@example.com", "a.pdf", ingested=True, pages=2, chunks=1, language="de")
    assert "a.pdf (2 Seiten) ist jetzt in Ihrer Wissensdatenbank: 1 Abschnitt ist durchsuchbar." in german.get_content()


def test_the_facts_check_coverage_finds_are_the_ones_told_in_plain_words() -> None:
    """check_coverage hands the notice its facts (the share read, the unread pages), not text to parse."""
    from tasks.pdf.coverage import Coverage
    from tasks.pdf.job import SourceJob
    from tasks.pdf.steps import check_coverage

    job = SourceJob(source_id=7, collection_id=3, owner_user_id=5, owner_name="Ada", owner_email="ada@example.com",
                    filename="deck.pdf", object_key="5/uploads/3/deck.pdf")
    coverage = Coverage(share=0.417, layer_words=1200, chunk_words=500)
    warning = check_coverage.fn(coverage, job, list(range(3, 17)))
    assert warning is not None and warning.share_read == 0.417 and warning.unread_pages == list(range(3, 17))
    paragraphs = plain_warning(warning.share_read, warning.unread_pages)
    said = ["Only part of its text could be read (about 42%)",
            "Pages 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 4 more are scanned images"]
    assert len(paragraphs) == 2 and all(p.startswith(s) for p, s in zip(paragraphs, said, strict=True))
    assert not any("NIGHTSHIFT_" in p or "source 7" in p for p in paragraphs)
