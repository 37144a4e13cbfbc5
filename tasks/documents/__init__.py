"""Website ingestion (spec 4) and document update (spec 5), one module per step of the process.

- urls: what makes two links the same page, and which links are worth crawling
- fetch: GET behind the SSRF guard, with timeouts, a size cap and bounded redirects
- crawl: robots.txt, the same-site crawl, and the crawl-website task
- drafts: pages to chunks (boilerplate dropped), documents registered, new content of an update
- save: embed, swap chunk sets, sync the vector store, delete
- search: the owner's best current chunks for a query (documents and PDF sources)
- report: the run's artifact
"""
