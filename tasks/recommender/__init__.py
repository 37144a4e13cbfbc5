"""Recommender (spec 7): sentences, a recall-tuned Annoy index, versioned packages, the engine a worker
keeps loaded, and the build and recommend steps.

- `sentences` — publications split into sentences, keyed by content hash
- `index` — the Annoy index tuned by measured recall against exact search
- `package` — the versioned package: pack, verify, unpack
- `engine` — the loaded version a worker serves from, swapped when a newer one is current
- `steps` — the Prefect tasks of the build and of a recommendation
- `reports` — the artifacts and the event a build publishes
"""
