"""PDF ingestion (spec 6), one module per step of the process.

- partition: pages to elements with unstructured (no Prefect: the partition processes import it)
- sentences: the offline sentence model unstructured needs
- processes: partition processes with their memory and time limits
- chunk: elements to chunks by title
- steps: the Prefect tasks of the ingest-pdf flow
- report: the owner's mail and the run's artifact
"""
