"""What a user reads when a document they sent was added or could not be: plain words and what to do.

The technical error never reaches the user: the run fails with it and the operators are mailed
(flows/operators.py). The user gets the cause in plain language and the step that fixes it, or, when the
cause is on our side, that nothing was lost and that nothing is asked of them.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formataddr

# (pattern in the technical error, what the user reads), first match wins; the patterns follow the
# messages of tasks/pdf (PdfRejected, PdfLimitExceeded).
FAILURES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"encrypted|password", re.I),
     "The PDF is encrypted with a password, so it could not be read. Save a copy without the password "
     "(for example with \"Print to PDF\") and upload that copy."),
    (re.compile(r"not a PDF", re.I),
     "The file is not a PDF. Export or save the document as a PDF, then upload it again."),
    (re.compile(r"file is empty|has no pages", re.I),
     "The file arrived empty. Upload it again; if this happens again, open it on your computer to check "
     "that it has pages."),
    (re.compile(r"no text found", re.I),
     "No text was found in it: it is probably scanned pages. Run text recognition (OCR) on it, or export "
     "a PDF with selectable text, and upload it again."),
    (re.compile(r"pages, over the limit", re.I),
     "The PDF has more pages than one upload can take. Split it into smaller files and upload them one by one."),
    (re.compile(r"over the limit|need more than|took longer than|was stopped", re.I),
     "The PDF is too large or too heavy to read in one go (very large images, for instance). Split it into "
     "smaller files, or save it again with compressed images, and upload it again."),
    (re.compile(r"corrupt", re.I),
     "The file seems corrupt (damaged), so it could not be read. Open it on your computer, save or export it again "
     "as a PDF, and upload the new copy."),
]
ON_OUR_SIDE = ("Something went wrong on our side while adding it. Nothing you sent is lost and there is "
               "nothing you need to do: our team has been told and will add it or get back to you.")


def plain_failure(error: str | None) -> str:
    """The cause of a failed ingestion in plain words, with what the user can do about it."""
    for pattern, text in FAILURES:
        if error and pattern.search(error):
            return text
    return ON_OUR_SIDE


def document_notice(owner_name: str, owner_email: str, filename: str, *, ingested: bool, pages: int = 0,
                    chunks: int = 0, error: str | None = None) -> EmailMessage:
    """The mail telling the owner that a document is ready to search, or why it is not and what to do."""
    message = EmailMessage()
    message["To"] = formataddr((owner_name, owner_email))
    message["Auto-Submitted"] = "auto-generated"
    if ingested:
        message["Subject"] = f"{filename} is ready to search"
        body = (f"Hello {owner_name},\n\n{filename} ({pages} pages) is now in your knowledge base: "
                f"{chunks} passages can be searched.\n")
    else:
        message["Subject"] = f"{filename} could not be added"
        body = (f"Hello {owner_name},\n\n{filename} could not be added to your knowledge base.\n\n"
                f"{plain_failure(error)}\n")
    message.set_content(body)
    return message
