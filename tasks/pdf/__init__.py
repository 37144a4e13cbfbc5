"""PDF ingestion (spec 6), one module per step of the process.

- document: the PDF as a whole (checks before partitioning, page batches, scanned pages)
- partition: pages to elements with unstructured (no Prefect: the partition processes import it)
- images: the embedded images found while partitioning
- sentences: the offline sentence model unstructured needs
- processes: partition processes with their memory and time limits
- chunk: elements to chunks by title
- steps: the Prefect tasks of the ingest-pdf flow
- report: the owner's mail and the run's artifact
- run: one flow run around its steps (its outcome, progress bar, and what a failure does)
"""
