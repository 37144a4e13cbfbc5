"""Main text, encodings, links, chunking and the boilerplate filters, on the real pages in ../shared/data/html."""

from __future__ import annotations

import time

import pytest
from chat_server import FakeChatServer, answer
from conftest import SHARED_DATA

from blocks.llm import OpenAICompatibleLLM
from blocks.offline import OfflineLLM
from tasks.text import CHUNK_SIZE, content_hash, decode_html, extract_main_text, find_links, split_into_chunks

HTML = SHARED_DATA / "html"


def page(name: str):  # type: ignore[no-untyped-def]
    return extract_main_text((HTML / name).read_bytes(), None)


def test_cp1252_page_without_declared_charset_decodes() -> None:
    text = page("fake-html-cp1252.html").text
    for expected in ("Die schöne Frau", "15,50 €", "été était très chaud", "El niño", "köttbullar", "João"):
        assert expected in text
    assert "\ufffd" not in text


def test_declared_charsets_win_and_latin1_reads_as_windows_1252() -> None:
    raw = "<p>Prix : 15,50 € — déjà</p>".encode("cp1252")
    assert "15,50 €" in decode_html(raw, "iso-8859-1")
    assert "15,50 €" in decode_html(b'<meta charset="windows-1252">' + raw, None)
    assert decode_html("<p>Grüße</p>".encode("utf-16"), "utf-16") == "<p>Grüße</p>"


def test_german_fragment_keeps_its_text() -> None:
    text = page("fake-html-lang-de.html")
    assert text.text == "Jahresabschluss zum Geschäftsjahr vom 01.01.2020 bis zum 31.12.2020"


def test_footer_and_scripts_are_dropped() -> None:
    simple = page("fake-html-with-footer-and-header.html").text
    assert "My first paragraph." in simple and "Footer" not in simple
    scripts = page("example-with-scripts.html")
    assert scripts.text.startswith("Russian Offensive Campaign Assessment")
    for boilerplate in ("function(", "var ", "Donate", "window."):
        assert boilerplate not in scripts.text


def test_large_report_keeps_tables_in_reasonable_time() -> None:
    started = time.perf_counter()
    report = page("example-10k.html")
    assert time.perf_counter() - started < 15  # 0.6-2.5 s here under load
    assert "ANNUAL REPORT PURSUANT TO SECTION 13" in report.text
    assert "RISK FACTORS" in report.text and len(report.text) > 100_000
    assert "<td" not in report.text and "display:none" not in report.text


def test_essay_chunks_are_sentence_aligned_and_lose_nothing() -> None:
    text = page("ideas-page.html").text + "\n\n" + page("example-with-scripts.html").text
    chunks = split_into_chunks(text)
    assert len(chunks) > 20 and all(len(c) <= CHUNK_SIZE for c in chunks)
    assert sorted(len(c) for c in chunks)[len(chunks) // 2] >= CHUNK_SIZE * 0.5  # not shredded
    # Chunks end on a sentence or paragraph end, not in the middle of a word.
    ends = [c.rstrip()[-1] for c in chunks]
    assert sum(e in ".!?:\")”’]" for e in ends) >= len(chunks) * 0.8, ends
    words = set(text.split())
    assert words <= set(" ".join(chunks).split())


def test_german_and_tiny_texts_make_one_chunk() -> None:
    assert split_into_chunks("Jahresabschluss zum Geschäftsjahr.") == ["Jahresabschluss zum Geschäftsjahr."]
    assert split_into_chunks("   \n\n ") == []


def test_content_hash_ignores_whitespace_but_not_words() -> None:
    assert content_hash("Hello  world.\n") == content_hash("Hello world.")
    assert content_hash("Hello world.") != content_hash("Hello world!")


def test_links_resolve_against_base_href() -> None:
    raw = b'<html><head><base href="http://example.org/docs/"></head><body><a href="a.html">A</a>' \
          b'<a href="/b">B</a><map><area href="c.html"></map><a>no href</a></body></html>'
    assert find_links(raw, None, "http://example.org/") == [
        "http://example.org/docs/a.html", "http://example.org/b", "http://example.org/docs/c.html"]


def test_offline_filter_drops_chrome_and_keeps_content() -> None:
    chunks = [
        "Home\nAbout\nBlog\nPricing\nContact",
        "© 2024 Example Inc. All rights reserved. Privacy Policy · Terms of Use",
        "We use cookies to improve your experience. Accept cookies?",
        page("fake-html-lang-de.html").text,
        page("ideas-page.html").text[:900],
        "Our cookie recipe: mix flour, butter and sugar, then bake for twelve minutes at 180 degrees.",
    ]
    assert OfflineLLM().relevant_chunks("Example", chunks) == [False, False, False, True, True, True]


def test_openai_filter_asks_for_json_flags_and_fails_open_on_a_wrong_count(chat_server: FakeChatServer) -> None:
    llm = OpenAICompatibleLLM(base_url=chat_server.base_url, model="m", retry_backoff_seconds=0)
    chat_server.script = [answer({"relevant": [True, False]}), answer({"relevant": [False]})]
    assert llm.relevant_chunks("Page", ["Real content here.", "Login | Sign up"]) == [True, False]
    request = chat_server.requests[0].body
    assert request["response_format"] == {"type": "json_object"}
    assert "[2] Login | Sign up" in request["messages"][1]["content"]
    # One flag for two chunks: the answer cannot be matched, so both are kept.
    assert llm.relevant_chunks("Page", ["a", "b"]) == [True, True]


@pytest.mark.parametrize("count", [45])
def test_openai_filter_batches_long_pages(chat_server: FakeChatServer, count: int) -> None:
    llm = OpenAICompatibleLLM(base_url=chat_server.base_url, model="m", retry_backoff_seconds=0)
    chat_server.responder = lambda request: answer(
        {"relevant": [("menu" not in line) for line in request.body["messages"][1]["content"].split("\n\n")[1:]]})
    chunks = [f"chunk {i} menu" if i % 3 == 0 else f"chunk {i} text" for i in range(count)]
    assert llm.relevant_chunks("Page", chunks) == [i % 3 != 0 for i in range(count)]
    assert len(chat_server.requests) == 3
