"""Benchmark: PDF ingestion of the first 200 pages of DA-619p.pdf, through the flow and as plain calls.

    .venv/bin/python bench/ingest_pdf.py            # 200 pages
    .venv/bin/python bench/ingest_pdf.py --pages 0  # all 619 pages

Runs the ingest-pdf flow end to end (object storage → partition → chunk → embed → Chroma) against the
Prefect API in PREFECT_API_URL (a temporary one when unset), then in the same process the baseline: the
same partition + chunk + embed as plain function calls (page batches in the same partition processes as
the flow, and also one after the other in one process), and the torch-only embedding of the same chunks.
The flow runs twice: with the old line assembly (NIGHTSHIFT_PDF_ASSEMBLY=lines) and the default
paragraphs (goal: ≤ 1.20× the old time). OCR is timed on its own on the scanned pages of ../shared/data.
Goals: ≤ 60 s for 200 pages; flow / baseline ≤ 1.10.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "tests")]

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pdf" / "DA-619p.pdf"


def prefect_api():  # type: ignore[no-untyped-def]
    if os.environ.get("PREFECT_API_URL"):
        return contextlib.nullcontext()
    from prefect.testing.utilities import prefect_test_harness

    print("starting a temporary Prefect API…", flush=True)
    return prefect_test_harness(server_startup_timeout=60)


def setup(home: Path, data: bytes) -> tuple[int, int]:
    """A profile on a fresh home (SQLite, local folders, embedded Chroma), a user, a collection, a source."""
    from blocks.profile import clear_profile_cache, embedded_profile, load_profile
    from deployments.operations.bootstrap import register_block_types, save_profile
    from store.models import User
    from store.sources import ensure_collection, ensure_source

    register_block_types()
    save_profile(embedded_profile(home), "bench-pdf", overwrite=True)
    os.environ["NIGHTSHIFT_PROFILE"] = "bench-pdf"
    clear_profile_cache()
    profile = load_profile()
    profile.database.migrate()
    profile.storage.put_bytes("1/uploads/DA.pdf", data)
    with profile.database.session() as session:
        user = User(name="Bench", email="bench@example.com")
        session.add(user)
        session.flush()
        collection_id = ensure_collection(session, user.id, "bench")
        return collection_id, ensure_source(session, collection_id, "DA.pdf", "1/uploads/DA.pdf")


def baseline(data: bytes, parallel: bool) -> tuple[float, int, list[str]]:
    """The same partition + chunk + embed as plain function calls, no Prefect.

    parallel: page batches in the same partition processes as the flow (a fresh set, as a flow run
    starts them), side by side from threads; otherwise one after the other in this process.
    """
    from concurrent.futures import ThreadPoolExecutor

    from blocks.profile import load_profile
    from tasks.pdf.chunk import chunk_elements
    from tasks.pdf.document import count_pages, page_batches
    from tasks.pdf.partition import partition_fast
    from tasks.pdf.processes import close_partition_processes, partition_fast_in_process

    start = time.perf_counter()
    pages = count_pages(data, 0)
    batches = page_batches(pages)
    if parallel:
        with ThreadPoolExecutor(len(batches)) as threads:
            parts = list(threads.map(lambda b: partition_fast_in_process(data, *b, "DA.pdf", 0), batches))
        close_partition_processes()
    else:
        parts = [partition_fast(data, first, last, "DA.pdf", 0) for first, last in batches]
    texts = [chunk.text for chunk in chunk_elements([e for part in parts for e in part.elements])]
    partitioned = time.perf_counter()
    load_profile().embedder.embed(texts)
    end = time.perf_counter()
    kind = "partition processes" if parallel else "one process"
    print(f"  baseline ({kind}): partition + chunk {partitioned - start:.1f} s, embed {end - partitioned:.1f} s")
    return end - start, len(texts), texts


def embedding_speed(fast, torch, texts: list[str], rounds: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Seconds per pass over `texts` for each path: alternating rounds, best of each (the machine is shared)."""
    sample = texts[:: max(1, len(texts) // 300)]
    best = {"fast": float("inf"), "torch": float("inf")}
    for _ in range(rounds):
        for name, embedder in (("fast", fast), ("torch", torch)):
            start = time.perf_counter()
            embedder.embed(sample)
            best[name] = min(best[name], time.perf_counter() - start)
    scale = len(texts) / len(sample)
    return best["fast"] * scale, best["torch"] * scale


def ocr_pages() -> None:
    """OCR timed on its own: the scanned pages of ../shared/data (no text layer), one at a time."""
    from tasks.pdf.document import open_pdf, scanned_pages
    from tasks.pdf.ocr import ocr_engine, read_page
    from tasks.pdf.partition import PdfFidelity

    dpi = PdfFidelity().ocr_dpi
    ocr_engine()  # models loaded before the clock starts
    for path in sorted(DATA.parent.glob("*.pdf")):
        data = path.read_bytes()
        try:
            pages = scanned_pages(data, 0)
        except ValueError:  # encrypted or broken: not an OCR case
            continue
        document = open_pdf(data, 0)
        for number in pages:
            start = time.perf_counter()
            paragraphs = read_page(document, number - 1, dpi)
            print(f"OCR {path.name} page {number} at {dpi} dpi: {time.perf_counter() - start:.1f} s, "
                  f"{sum(len(p) for p in paragraphs)} characters")
        document.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="first N pages of DA-619p.pdf (0 = all 619)")
    parser.add_argument("--no-ocr", dest="ocr", action="store_false", help="skip timing OCR on the scanned pages")
    args = parser.parse_args()
    from factories import pdf_first_pages

    from tasks.pdf.document import count_pages

    data = pdf_first_pages(DATA, args.pages)
    pages = count_pages(data, 0)
    home = Path(tempfile.mkdtemp(prefix="nightshift-bench-pdf-"))
    os.environ.setdefault("NIGHTSHIFT_HOME", str(home))  # the model export too: nothing left in ~/.nightshift
    with prefect_api():
        from blocks.embedder import SentenceTransformerEmbedder
        from blocks.profile import load_profile
        from flows.pdf import ingest_pdf
        from tasks.pdf.sentences import use_offline_sentence_model

        collection_id, source_id = setup(home, data)
        # Warm both paths alike: models loaded (and the int8 export made) before any clock starts.
        use_offline_sentence_model()
        fast, torch = load_profile().embedder, SentenceTransformerEmbedder(backend="torch")
        fast.embed(["warm up"]), torch.embed(["warm up"])

        print(f"{pages} pages of {DATA.name}, embedder {fast.model_name}", flush=True)
        # The old assembly (one element per PDF line, NIGHTSHIFT_PDF_ASSEMBLY=lines) first, same run, same machine.
        os.environ["NIGHTSHIFT_PDF_ASSEMBLY"] = "lines"
        start = time.perf_counter()
        old = ingest_pdf(collection_id, source_id)
        old_seconds = time.perf_counter() - start
        print(f"  flow, old line assembly: {old_seconds:.1f} s", flush=True)
        os.environ["NIGHTSHIFT_PDF_ASSEMBLY"] = "paragraphs"
        start = time.perf_counter()
        outcome = ingest_pdf(collection_id, source_id)
        flow_seconds = time.perf_counter() - start
        print(f"  flow: {flow_seconds:.1f} s", flush=True)
        base_seconds, base_chunks, texts = baseline(data, parallel=True)
        serial_seconds, _, _ = baseline(data, parallel=False)
        fast_embed, torch_embed = embedding_speed(fast, torch, texts)

    for label, run, seconds in (("old line assembly", old, old_seconds), ("paragraphs (default)", outcome, flow_seconds)):
        print(f"{label}: {seconds:.1f} s, {run.chunks} chunks from {run.elements} elements, coverage {run.coverage}, "
              f"artefacts {run.artefacts or 'none'}")
    print(f"paragraphs / old line assembly: {flow_seconds / old_seconds:.2f} (goal ≤ 1.20)")
    print(f"flow (object storage → … → Chroma): {flow_seconds:.1f} s, {pages / flow_seconds:.1f} pages/s, "
          f"{outcome.chunks / flow_seconds:.1f} chunks/s ({outcome.chunks} chunks, {outcome.elements} elements)")
    print(f"baseline (plain calls):             {base_seconds:.1f} s, {pages / base_seconds:.1f} pages/s, "
          f"{base_chunks / base_seconds:.1f} chunks/s ({base_chunks} chunks), page batches in partition processes")
    print(f"  the same, batches one after the other in one process: {serial_seconds:.1f} s")
    print(f"flow / baseline (plain calls in one process): {flow_seconds / serial_seconds:.2f} (goal ≤ 1.10)")
    print(f"flow / plain calls with the same partition processes: {flow_seconds / base_seconds:.2f} "
          "(the flow also stores assets, upserts into Chroma and snapshots the store; the baseline does not)")
    print(f"embedding {len(texts)} chunks (best of 3 alternating rounds on a sample): {fast.model_name} {fast_embed:.1f} s ({len(texts) / fast_embed:.0f}/s), "
          f"torch {torch_embed:.1f} s ({len(texts) / torch_embed:.0f}/s): speedup {torch_embed / fast_embed:.2f}x")
    torch_total = base_seconds - fast_embed + torch_embed
    print(f"end to end with the torch path instead: {torch_total:.1f} s; speedup {torch_total / base_seconds:.2f}x")
    if args.ocr:
        ocr_pages()
    print(f"goal ≤ 60 s for 200 pages: {'met' if flow_seconds * 200 / pages <= 60 else 'NOT met'} "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
