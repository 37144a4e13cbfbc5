"""What a user reads when a document they sent was added or could not be: plain words and what to do.

The technical error never reaches the user: the run fails with it and the operators are mailed
(flows/operators.py). The user gets the cause in plain language and the step that fixes it, or, when the
cause is on our side, that nothing was lost and that nothing is asked of them. The words are in the
owner's language (tasks/emails/notice_words.py), English when it has none of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formataddr

from blocks.rules.mail_writer import counted
from blocks.rules.text import language_code_of
from tasks.emails.notice_words import WORDS

# (pattern in the technical error, the kind of failure the user reads about), first match wins; the
# patterns follow the messages of tasks/pdf (PdfRejected, PdfLimitExceeded), narrowly: a database's
# "password authentication failed" is on our side, not an encrypted PDF.
FAILURES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern, re.I), kind) for pattern, kind in (
        (r"PDF is encrypted|password-protected", "encrypted"),
        (r"not a PDF", "not_pdf"),
        (r"file is empty|has no pages", "empty"),
        (r"no text found", "no_text"),
        (r"pages, over the limit", "too_many_pages"),
        (r"over the limit|need more than|took longer than|partition process .* was stopped", "too_heavy"),
        (r"corrupt", "corrupt"),
    )
]
PAGES_SHOWN = 10  # unread pages named in the mail; the others are counted
LANGUAGES = tuple(WORDS)
ON_OUR_SIDE = str(WORDS["en"]["on_our_side"])


def notice_language(language_code: str | None) -> str:
    """The language the notices are written in for a user's language code (English when it has none)."""
    language = language_code_of(language_code)
    return language if language in WORDS else "en"


def say(language: str, key: str, n: int = 0, **values: object) -> str:
    """One text of the notices in `language`, its fields filled; of a (one, many) pair the form for `n`."""
    return counted(WORDS[language][key], n, language, **values)


def plain_failure(error: str | None, language: str | None = None) -> str:
    """The cause of a failed ingestion in plain words, with what the user can do about it."""
    kind = next((kind for pattern, kind in FAILURES if error and pattern.search(error)), "on_our_side")
    return say(notice_language(language), kind)


def plain_warning(share_read: float | None = None, unread_pages: Sequence[int] = (),
                  language: str | None = None) -> list[str]:
    """What an ingestion's warning means for the user, one paragraph per cause, with what they can do: the
    share of the text read when under the minimum, the scanned pages nobody read; a warning of another
    cause, in general words."""
    lang, paragraphs = notice_language(language), []
    if share_read is not None:
        paragraphs.append(say(lang, "partly_read", share=round(share_read * 100)))
    if unread_pages:
        listed = ", ".join(map(str, unread_pages[:PAGES_SHOWN]))
        if len(unread_pages) > PAGES_SHOWN:
            listed += " " + say(lang, "and_more", len(unread_pages) - PAGES_SHOWN)
        paragraphs.append(say(lang, "unread_pages", len(unread_pages), pages=listed))
    return paragraphs or [say(lang, "other_warning")]


def document_notice(owner_name: str, owner_email: str, filename: str, *, ingested: bool, pages: int = 0,
                    chunks: int = 0, error: str | None = None, warning: str | None = None,
                    share_read: float | None = None, unread_pages: Sequence[int] = (),
                    language: str | None = None) -> EmailMessage:
    """The mail telling the owner that a document is ready to search, or why it is not and what to do.

    `warning` is the operators' text, never shown; `share_read` and `unread_pages` are what the mail tells of it.
    """
    lang = notice_language(language)
    message = EmailMessage()
    message["To"] = formataddr((owner_name, owner_email))
    message["Auto-Submitted"] = "auto-generated"
    paragraphs = [say(lang, "hello", name=owner_name)]
    if ingested:
        message["Subject"] = say(lang, "warned_subject" if warning else "ready_subject", filename=filename)
        paragraphs.append(say(lang, "ready", filename=filename, pages=say(lang, "pages", pages),
                              passages=say(lang, "passages", chunks)))
        paragraphs += plain_warning(share_read, unread_pages, language) if warning else []
    else:
        message["Subject"] = say(lang, "failed_subject", filename=filename)
        paragraphs += [say(lang, "failed", filename=filename), plain_failure(error, language)]
    message.set_content("\n\n".join(paragraphs) + "\n")
    return message
