"""Benchmark: retrieval over ../shared/data, ingested through the flows, with questions whose answer is known.

    .venv/bin/python bench/retrieval.py

Ingests the PDFs with a text layer (ingest-pdf; DA-619p.pdf's first 30 pages) and the HTML pages (served
on loopback, ingest-website) for one owner, then asks each question through search_chunks (the path
users search by). A question is answered at rank r when the r-th hit comes from the expected document and
contains one of its answer keys (case and spacing ignored). Prints recall@5 and MRR@5 by language and
overall, the questions missed and search_chunks' latency (p50/p99) — for the hybrid ranking users get and,
in the same run, for the embedder's order alone (fusion=False) — then each document's coverage of its text
layer and chunk statistics (mean length, share ending at a sentence boundary, artefacts). Everything it
writes (profile home, model export) lives in one temporary folder, removed at the end. Goals: recall@5 >=
0.9, coverage >= 0.98 on every PDF with a text layer, 0 artefacts. The questions were written by reading the documents; each
answer key is checked to occur in the expected document's chunks (a question that no chunk can answer
is reported, not counted as a retrieval miss).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PDFS = {"layout-parser-paper-fast.pdf": 0, "layout-parser-paper-with-table.pdf": 0, "multi-column.pdf": 0,
        "korean-text-with-tables.pdf": 0, "embedded-images-tables.pdf": 0, "a1977-backus-p21.pdf": 0,
        "DA-619p.pdf": 30}
PAGES = {"/ideas.html": "ideas-page.html", "/cp1252.html": "fake-html-cp1252.html", "/de.html": "fake-html-lang-de.html",
         "/isw.html": "example-with-scripts.html"}
# Two files of the data hold the same paper's pages: a hit from either answers its questions.
SAME_TEXT = {name: {"layout-parser-paper-fast.pdf", "layout-parser-paper-with-table.pdf"}
             for name in ("layout-parser-paper-fast.pdf", "layout-parser-paper-with-table.pdf")}
SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")

# (language, question, document (PDF file or page path), answer keys: any one in the hit)
QUESTIONS: list[tuple[str, str, str, tuple[str, ...]]] = [
    # Dense Passage Retrieval (multi-column.pdf)
    ("en", "Which sparse retrieval methods are the de facto standard for open-domain QA?", "multi-column.pdf", ("TF-IDF or BM25",)),
    ("en", "What top-5 accuracy does the dense retriever reach compared with BM25?", "multi-column.pdf", ("65.2%",)),
    ("en", "How much end-to-end QA accuracy does DPR get compared with ORQA on Natural Questions?", "multi-column.pdf", ("41.5%",)),
    ("en", "What library is used to index the passage embeddings offline?", "multi-column.pdf", ("FAISS",)),
    ("en", "How long are the text passages Wikipedia is split into?", "multi-column.pdf", ("100 words",)),
    ("en", "How many passages does the Wikipedia corpus have after splitting?", "multi-column.pdf", ("21,015,324",)),
    ("en", "Which Wikipedia dump is used as the source of documents?", "multi-column.pdf", ("Dec. 20, 2018",)),
    ("en", "What similarity function between question and passage vectors does DPR use?", "multi-column.pdf", ("inner product", "dot product", "dot-product")),
    ("en", "What are in-batch negatives?", "multi-column.pdf", ("in-batch negatives", "In-batch negatives")),
    ("en", "Which three kinds of negative passages are considered for training?", "multi-column.pdf", ("Random: any random passage",)),
    ("en", "Who first voiced Meg on Family Guy is given as an example of what kind of question?", "multi-column.pdf", ("factoid question",)),
    ("en", "Why would a term-based system have trouble with the villain of the Lord of the Rings?", "multi-column.pdf", ("Sauron",)),
    ("en", "What are the weaknesses of ICT pretraining in ORQA?", "multi-column.pdf", ("computationally intensive",)),
    ("en", "Can a better dense embedding model be trained without additional pretraining?", "multi-column.pdf", ("without additional pretraining", "additional pretraining may not be needed")),
    ("en", "How are BM25 and DPR scores combined for reranking?", "multi-column.pdf", ("BM25(q,p) + λ",)),
    ("en", "Which loss function is optimized for training the encoders?", "multi-column.pdf", ("negative log", "log likelihood")),
    ("en", "What is the joint training of retriever and reader about?", "multi-column.pdf", ("joint-training scheme", "joint training")),
    ("en", "How is top-k retrieval accuracy defined?", "multi-column.pdf", ("top-k retrieval accuracy",)),
    ("en", "What does a dense passage retriever do with the collection of text passages?", "multi-column.pdf", ("low-dimensional",)),
    ("en", "Which pretrained model are the encoders based on?", "multi-column.pdf", ("BERT",)),
    # LayoutParser (two versions of the paper)
    ("en", "What is LayoutParser?", "layout-parser-paper-fast.pdf", ("open-source library",)),
    ("en", "Where is the LayoutParser library available?", "layout-parser-paper-fast.pdf", ("layout-parser.github.io",)),
    ("en", "Which institute is the first author of LayoutParser affiliated with?", "layout-parser-paper-fast.pdf", ("Allen Institute for AI",)),
    ("en", "What are the practical difficulties of reusing deep learning models for document image analysis?", "layout-parser-paper-fast.pdf", ("notoriously convoluted",)),
    ("en", "What does the LayoutParser model zoo provide?", "layout-parser-paper-fast.pdf", ("Model Zoo",)),
    ("en", "How can LayoutParser be installed?", "layout-parser-paper-fast.pdf", ("installed via pip",)),
    ("en", "What are the keywords of the LayoutParser paper?", "layout-parser-paper-fast.pdf", ("Keywords",)),
    ("en", "What is the arXiv identifier of the LayoutParser paper?", "layout-parser-paper-fast.pdf", ("2103.15348",)),
    # Corrosion inhibitor (embedded-images-tables.pdf)
    ("en", "Which isotherm does egg shell adsorption on stainless steel follow?", "embedded-images-tables.pdf", ("Langmuir adsorption",)),
    ("en", "What happens to the corrosion product layer without an inhibitor?", "embedded-images-tables.pdf", ("porous",)),
    ("en", "In which acid solution was the stainless steel tested?", "embedded-images-tables.pdf", ("H2SO4",)),
    ("en", "What data does Table 1 give for stainless steel?", "embedded-images-tables.pdf", ("Potentiodynamic polarization data",)),
    ("en", "Which journal published the egg shell corrosion study?", "embedded-images-tables.pdf", ("Data in Brief",)),
    # Backus 1977
    ("en", "What does the controlling function permit in defining new functional forms?", "a1977-backus-p21.pdf", ("new functional forms",)),
    ("en", "Can one write recursive functions without a definition?", "a1977-backus-p21.pdf", ("recursive functions without a definition",)),
    # Dragon Age codex (DA-619p.pdf, first 30 pages)
    ("en", "What does the Litany of Adralla do?", "DA-619p.pdf", ("mind-control",)),
    ("en", "Who was Havard the Aegis?", "DA-619p.pdf", ("Maferath's closest friend",)),
    ("en", "Why do demons try to possess mages?", "DA-619p.pdf", ("attempts to possess a mage",)),
    ("en", "What is a bronto?", "DA-619p.pdf", ("beast of burden",)),
    ("en", "How do female dragons differ from males at adulthood?", "DA-619p.pdf", ("third",)),
    ("en", "What are genlocks?", "DA-619p.pdf", ("most common darkspawn",)),
    ("en", "What animal is most revered by the Dalish?", "DA-619p.pdf", ("halla",)),
    ("en", "Which dog breed is most prized in Ferelden?", "DA-619p.pdf", ("mabari",)),
    ("en", "What is a nug?", "DA-619p.pdf", ("almost blind",)),
    ("en", "What is a fanged skeleton?", "DA-619p.pdf", ("hunger demon",)),
    ("en", "Who led a crusade against the werewolves?", "DA-619p.pdf", ("Dane",)),
    ("en", "What are shrieks known for?", "DA-619p.pdf", ("speed and agility",)),
    ("en", "What happens to women exposed to the darkspawn taint?", "DA-619p.pdf", ("mutations",)),
    ("en", "What are corrupted spiders?", "DA-619p.pdf", ("giant arachnids",)),
    # How to Get New Ideas (ideas-page.html)
    ("en", "What is the way to get new ideas?", "/ideas.html", ("notice anomalies",)),
    ("en", "Where is the best place to look for anomalies?", "/ideas.html", ("frontiers of knowledge",)),
    ("en", "How does knowledge grow?", "/ideas.html", ("fractally",)),
    # ISW assessment (example-with-scripts.html)
    ("en", "Are Belarusian forces likely to attack Ukraine?", "/isw.html", ("remain unlikely to attack",)),
    ("en", "Who ordered a snap readiness check of the Belarusian military?", "/isw.html", ("Lukashenko",)),
    ("en", "Which rivers did Belarusian elements practice crossing?", "/isw.html", ("Neman and Berezina",)),
    # German, French, Spanish (fake-html-cp1252.html, fake-html-lang-de.html)
    ("de", "Was hat die schöne Frau gegessen?", "/cp1252.html", ("Kaffee mit Kuchen",)),
    ("de", "Wie viel kostete der Kaffee mit Kuchen?", "/cp1252.html", ("15,50",)),
    ("de", "Für welchen Zeitraum gilt der Jahresabschluss?", "/de.html", ("01.01.2020",)),
    ("de", "Was hat die Frau in Schweden gegessen?", "/cp1252.html", ("köttbullar", "Köttbullar")),
    ("fr", "Combien coûtait le café au lait ?", "/cp1252.html", ("3,50",)),
    ("es", "¿Qué comió el niño?", "/cp1252.html", ("paella",)),
    # Korean (korean-text-with-tables.pdf)
    ("ko", "커피전문점에서 적립되는 빅포인트 비율은 얼마인가요?", "korean-text-with-tables.pdf", ("2% 빅포인트",)),
    ("ko", "할인점과 주유에서 적립되는 빅포인트는 몇 퍼센트인가요?", "korean-text-with-tables.pdf", ("1.5% 빅포인트",)),
    ("ko", "빅포인트의 유효기간은 얼마인가요?", "korean-text-with-tables.pdf", ("유효기간은 5년",)),
    ("ko", "전월 이용금액이 얼마 이상이어야 혜택이 제공되나요?", "korean-text-with-tables.pdf", ("40만원 이상",)),
    ("ko", "편의점 적립 대상은 어디인가요?", "korean-text-with-tables.pdf", ("GS25",)),
    ("ko", "포인트 1점의 가치는 얼마인가요?", "korean-text-with-tables.pdf", ("1원의 가치",)),
]


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).casefold()


def answered(hit_text: str, keys: tuple[str, ...]) -> bool:
    text = squash(hit_text)
    return any(squash(key) in text for key in keys)


def setup(home: Path) -> int:
    """A profile on a fresh home (SQLite, local folders, embedded Chroma) and its owner."""
    from blocks.profile import clear_profile_cache, embedded_profile, load_profile
    from deployments.operations.bootstrap import register_block_types, save_profile
    from store.models import User

    register_block_types()
    save_profile(embedded_profile(home), "bench-retrieval", overwrite=True)
    os.environ["NIGHTSHIFT_PROFILE"] = "bench-retrieval"
    os.environ["NIGHTSHIFT_FETCH_ALLOWED_NETWORKS"] = "127.0.0.1/32"  # the loopback site below, this run only
    clear_profile_cache()
    profile = load_profile()
    profile.database.migrate()
    with profile.database.session() as session:
        user = User(name="Bench", email="bench@example.com")
        session.add(user)
        session.flush()
        return user.id


def ingest(owner: int) -> tuple[dict[str, str], list[tuple[str, float | None, int]]]:
    """Every document through its flow; (document key by source id / document id, PDF outcomes)."""
    from factories import pdf_first_pages
    from site_server import Page, serve

    from blocks.profile import load_profile
    from flows.documents import ingest_website
    from flows.pdf import ingest_pdf
    from store.sources import ensure_collection, ensure_source, source_object_key

    profile = load_profile()
    keys: dict[str, str] = {}
    outcomes = []
    for name, pages in PDFS.items():
        data = pdf_first_pages(DATA / "pdf" / name, pages)
        with profile.database.session() as session:
            collection_id = ensure_collection(session, owner, "bench")
            key = source_object_key(owner, collection_id, name)
            profile.storage.put_bytes(key, data)
            source_id = ensure_source(session, collection_id, name, key)
        started = time.perf_counter()
        outcome = ingest_pdf(collection_id, source_id)
        print(f"  ingest-pdf {name}: {outcome.pages} pages, {outcome.chunks} chunks, coverage {outcome.coverage}, "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        keys[f"source-{source_id}"] = name
        outcomes.append((name, outcome.coverage, source_id))
    links = " ".join(f'<a href="{path}">{path}</a>' for path in PAGES)
    site = {"/": Page(f"<html><body><h1>Library</h1><p>{links}</p></body></html>".encode())}
    site.update({path: Page((DATA / "html" / name).read_bytes(), content_type="text/html") for path, name in PAGES.items()})
    with serve(site) as server:
        outcome = ingest_website(server.origin + "/", owner)
        for document in outcome.documents:
            keys[f"document-{document.document_id}"] = (document.source_uri or "").removeprefix(server.origin)
    print(f"  ingest-website: {len(outcome.documents)} pages stored", flush=True)
    return keys, outcomes


def chunk_texts(owner: int, source_id: int) -> list[str]:
    from blocks.profile import load_profile
    from blocks.vectorstore import collection_name

    store = load_profile().vector_store
    n = store.count(collection_name(owner), where={"source_id": source_id})
    hits = store.query(collection_name(owner), [1.0] + [0.0] * 383, k=max(n, 1), where={"source_id": source_id})
    return [h.document for h in hits]


def ask(owner: int, keys: dict[str, str], fusion: bool) -> tuple[dict[str, list[float]], list, list[float]]:
    """Every question through search_chunks: (reciprocal ranks by language, questions missed, latencies in ms)."""
    from tasks.documents.search import search_chunks

    by_language: dict[str, list[float]] = {}
    missed, latencies = [], []
    for language, question, expected, answer_keys in QUESTIONS:
        started = time.perf_counter()
        hits = search_chunks(owner, question, k=5, fusion=fusion)
        latencies.append((time.perf_counter() - started) * 1000)
        accepted = SAME_TEXT.get(expected, {expected})
        rank = next((r for r, h in enumerate(hits, start=1)
                     if keys.get(f"source-{h.source_id}" if h.source_id else f"document-{h.document_id}") in accepted
                     and answered(h.text, answer_keys)), None)
        by_language.setdefault(language, []).append(1.0 / rank if rank else 0.0)
        if rank is None:
            missed.append((language, question, expected, [h.text[:80] for h in hits[:2]]))
    return by_language, missed, latencies


def report(title: str, by_language: dict[str, list[float]], latencies: list[float]) -> float:
    """Print recall@5 and MRR@5 by language and overall, and the latency; returns the overall recall."""
    ordered = sorted(latencies)
    p50, p99 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.50, 0.99))
    print(f"\n{title}: {len(QUESTIONS)} questions ({', '.join(f'{k} {len(v)}' for k, v in sorted(by_language.items()))})")
    every = [score for scores in by_language.values() for score in scores]
    for language, scores in sorted(by_language.items()) + [("all", every)]:
        recall = sum(s > 0 for s in scores) / len(scores)
        print(f"  {language:>3}: recall@5 {recall:.3f}   MRR@5 {sum(scores) / len(scores):.3f}")
    print(f"  search p50/p99 ms: {p50:.1f} / {p99:.1f}")
    return sum(s > 0 for s in every) / len(every)


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="nightshift-bench-retrieval-"))
    os.environ.setdefault("NIGHTSHIFT_HOME", str(home))  # the model export too: nothing left in ~/.nightshift
    try:
        return run(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(home: Path) -> int:
    from prefect.testing.utilities import prefect_test_harness

    from tasks.documents.search import search_chunks
    from tasks.pdf.coverage import artefacts

    with prefect_test_harness(server_startup_timeout=60):
        owner = setup(home)
        keys, outcomes = ingest(owner)
        search_chunks(owner, "warm-up", k=5)  # the first query opens the collection: not a search's cost
        dense = ask(owner, keys, fusion=False)
        by_language, missed, latencies = ask(owner, keys, fusion=True)
        pdf_chunks = {name: chunk_texts(owner, source_id) for name, _, source_id in outcomes}
        unanswerable = [question for _language, question, expected, answer_keys in QUESTIONS
                        if expected in pdf_chunks and not any(answered(t, answer_keys) for t in pdf_chunks[expected])]

    report("embedder alone (fusion=False)", dense[0], dense[2])
    recall = report("search_chunks (dense + BM25, reciprocal rank fusion)", by_language, latencies)
    print(f"goal recall@5 >= 0.9: {'met' if recall >= 0.9 else 'NOT met'}")
    for language, question, expected, tops in missed:
        print(f"  missed [{language}] {question} (in {expected}); top hits: {tops}")
    for question in unanswerable:
        print(f"  no chunk holds the answer key of: {question}")

    print("\nPDF                                   coverage  chunks  mean chars  sentence end  artefacts")
    total_artefacts = 0
    for name, coverage, _ in outcomes:
        texts = pdf_chunks[name]
        found = artefacts("\n".join(texts))
        total_artefacts += sum(found.values())
        ending = sum(bool(SENTENCE_END.search(t.strip())) for t in texts) / max(1, len(texts))
        print(f"{name:38s} {coverage if coverage is not None else 'none':>8}  {len(texts):6d}  "
              f"{sum(map(len, texts)) / max(1, len(texts)):10.0f}  {ending:12.2f}  {found or 0}")
    low = [name for name, coverage, _ in outcomes if coverage is not None and coverage < 0.98]
    print(f"goal coverage >= 0.98 on every PDF with a text layer: {'met' if not low else 'NOT met: ' + ', '.join(low)}")
    print(f"goal 0 artefacts: {'met' if total_artefacts == 0 else f'NOT met ({total_artefacts})'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
