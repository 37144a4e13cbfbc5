"""Benchmark: the two offline OCR engines on the same pages, for speed and for the words they get right.

    .venv/bin/python bench/ocr_engines.py [--pages 3] [--dpi 200]

RapidOCR (rapidocr-onnxruntime, what nightshift ships: its models are inside the wheel) against
Tesseract (the Debian package `tesseract-ocr`, a system package, run as its CLI; skipped with a note when
it is not installed). Scanned pages have no text to compare with, so each engine reads pages that do
have a text layer, rendered to images by pdfium exactly as a scanned page is (tasks/pdf/ocr.py): the
share of the text layer's words (tasks/pdf/coverage.py's comparison) found in what the engine read is
its word recall. The image-only pages of ../shared/data are read too, timed only. Prints seconds per
page and word recall for each engine, measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pdf"
TEXT_PAGES = [("layout-parser-paper-fast.pdf", 0), ("multi-column.pdf", 1), ("a1977-backus-p21.pdf", 0),
              ("DA-619p.pdf", 20), ("korean-text-with-tables.pdf", 0)]


def rapid(image_path: Path, image: object) -> str:
    from tasks.pdf.ocr import ocr_engine

    found, _ = ocr_engine()(image, use_cls=False)
    return "\n".join(text for _box, text, _score in found or [])


def tesseract(image_path: Path, language: str) -> str:
    done = subprocess.run(["tesseract", str(image_path), "stdout", "-l", language], capture_output=True, text=True,
                          timeout=600, check=False)
    return done.stdout


def recall(layer: str, read: str) -> float:
    from tasks.pdf.coverage import words

    want, got = words(layer), words(read)
    total = sum(want.values())
    return sum((want & got).values()) / total if total else 1.0


def main(argv: list[str] | None = None) -> int:
    import pypdfium2 as pdfium

    from tasks.pdf.coverage import page_texts
    from tasks.pdf.partition import scanned_pages

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=len(TEXT_PAGES), help="text-layer pages to read")
    parser.add_argument("--dpi", type=int, default=200)
    args = parser.parse_args(argv)
    has_tesseract = shutil.which("tesseract") is not None
    languages = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                               check=False).stdout.splitlines()[1:] if has_tesseract else []
    from tasks.pdf.ocr import ocr_engine

    ocr_engine()  # models loaded before any clock starts
    seconds: dict[str, list[float]] = {"rapidocr": [], "tesseract": []}
    recalls: dict[str, list[float]] = {"rapidocr": [], "tesseract": []}
    rows = []
    with tempfile.TemporaryDirectory(prefix="nightshift-ocr-") as tmp:
        jobs = [(name, index, True) for name, index in TEXT_PAGES[: args.pages]]
        for path in sorted(DATA.glob("*.pdf")):
            try:
                jobs += [(path.name, number - 1, False) for number in scanned_pages(path.read_bytes(), 0)]
            except Exception as error:  # noqa: BLE001 - encrypted or broken files of the data set: not OCR's business
                print(f"{path.name}: not read ({type(error).__name__})")
        for name, index, has_layer in jobs:
            data = (DATA / name).read_bytes()
            document = pdfium.PdfDocument(data)
            page = document[index]
            image = page.render(scale=args.dpi / 72).to_numpy()
            image_path = Path(tmp) / f"{name}-{index}.png"
            page.render(scale=args.dpi / 72).to_pil().save(image_path)
            page.close()
            document.close()
            layer = page_texts(data, 0)[index] if has_layer else ""
            language = "kor" if name.startswith("korean") else "eng"
            row = [f"{name} p{index + 1}", "text layer" if has_layer else "image only"]
            for engine in ("rapidocr", "tesseract"):
                if engine == "tesseract" and (not has_tesseract or language not in languages):
                    row += ["-", "-"]
                    continue
                started = time.monotonic()
                read = rapid(image_path, image) if engine == "rapidocr" else tesseract(image_path, language)
                elapsed = time.monotonic() - started
                seconds[engine].append(elapsed)
                row.append(f"{elapsed:.1f} s")
                if has_layer:
                    recalls[engine].append(recall(layer, read))
                    row.append(f"{recalls[engine][-1]:.3f}")
                else:
                    row.append(f"{len(read.split())} words")
            rows.append(row)
    print(f"OCR at {args.dpi} dpi; word recall = share of the text layer's words read (text-layer pages only)")
    print(f"{'page':<34} {'kind':<11} {'rapidocr s':>10} {'recall':>8} {'tesseract s':>11} {'recall':>11}")
    for row in rows:
        print(f"{row[0]:<34} {row[1]:<11} {row[2]:>10} {row[3]:>8} {row[4]:>11} {row[5]:>11}")
    for engine in ("rapidocr", "tesseract"):
        if seconds[engine]:
            mean_recall = sum(recalls[engine]) / len(recalls[engine]) if recalls[engine] else float("nan")
            print(f"{engine}: {sum(seconds[engine]) / len(seconds[engine]):.1f} s per page over {len(seconds[engine])} "
                  f"pages, word recall {mean_recall:.3f} over {len(recalls[engine])} text-layer pages")
        else:
            print(f"{engine}: not run (install the Debian package tesseract-ocr to compare)")
    if not has_tesseract:
        print("tesseract: not installed here; `apt-get install tesseract-ocr` (and tesseract-ocr-kor for Korean)")
    print(f"tesseract languages installed: {' '.join(languages) if languages else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
