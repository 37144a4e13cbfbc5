"""Bootstrap against a real Prefect API: block types, profile documents, work pools, migrations."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolUpdate
from prefect.settings import PREFECT_API_URL

from blocks.embedder import FP32_FILE, INT8_FILE, SentenceTransformerEmbedder
from blocks.llm import OpenAICompatibleLLM
from blocks.mailer import OutboxMailer
from blocks.offline import OfflineLLM
from blocks.profile import NightshiftProfile, embedded_profile
from blocks.storage import LocalFolderStorage
from deployments.operations.bootstrap import base_job_template, bootstrap, save_profile

ROOT = Path(__file__).resolve().parents[2]


def _pools() -> dict[str, str]:
    async def read() -> dict[str, str]:
        async with get_client() as client:
            return {pool.name: pool.type for pool in await client.read_work_pools()}

    return asyncio.run(read())


def test_bootstrap_creates_everything_and_is_safe_to_repeat(prefect_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    profile = bootstrap("boot-test", home=tmp_path)
    assert {"cpu": "process", "gpu": "process"}.items() <= _pools().items()
    loaded = NightshiftProfile.load("boot-test")
    assert isinstance(loaded.llm, OfflineLLM) and isinstance(loaded.storage, LocalFolderStorage)
    assert loaded.database.url.get_secret_value() == f"sqlite:///{tmp_path.resolve() / 'nightshift.db'}"
    assert "todo" in sa.inspect(profile.database.engine()).get_table_names()

    # An operator edits a block in the UI; bootstrapping again keeps the edit…
    OutboxMailer(folder=str(tmp_path / "outbox"), from_address="Ops <ops@example.com>").save("boot-test", overwrite=True)
    bootstrap("boot-test", home=tmp_path)
    assert NightshiftProfile.load("boot-test").mailer.from_address == "Ops <ops@example.com>"
    # …and a pool's job template, as edited…
    asyncio.run(_set_cpu_template({"job_configuration": {"command": "{{ command }}"},
                                   "variables": {"properties": {"command": {"type": "string"}}}}))
    bootstrap("boot-test", home=tmp_path)
    assert asyncio.run(_cpu_template())["variables"]["properties"]["command"] == {"type": "string"}
    # …unless told to overwrite.
    bootstrap("boot-test", home=tmp_path, overwrite=True)
    assert NightshiftProfile.load("boot-test").mailer.from_address.startswith("nightshift")
    assert asyncio.run(_cpu_template()) == base_job_template("cpu")
    # A pool made before the launcher moved to deployments/worker/ gets the current template.
    old = base_job_template("cpu")
    old["variables"]["properties"]["command"]["default"] = "python -m deployments.launch"
    asyncio.run(_set_cpu_template(old))
    bootstrap("boot-test", home=tmp_path)
    assert asyncio.run(_cpu_template()) == base_job_template("cpu")


async def _cpu_template() -> dict:
    async with get_client() as client:
        return (await client.read_work_pool("cpu")).base_job_template


async def _set_cpu_template(template: dict) -> None:
    async with get_client() as client:
        await client.update_work_pool("cpu", WorkPoolUpdate(base_job_template=template))


def test_profile_loads_each_part_as_its_own_block_type(prefect_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    production_like = embedded_profile(tmp_path).model_copy(
        update={"llm": OpenAICompatibleLLM(base_url="http://127.0.0.1:9/v1", model="served", api_key="sk-secret")}
    )
    save_profile(production_like, "union-test", overwrite=True)
    loaded = NightshiftProfile.load("union-test")
    assert isinstance(loaded.llm, OpenAICompatibleLLM)
    assert loaded.llm.model == "served" and loaded.llm.api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(loaded)


def _bootstrap_command(home: Path, models: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIGHTSHIFT_")}
    env |= {"PREFECT_API_URL": PREFECT_API_URL.value(), "NIGHTSHIFT_HOME": str(home),
            "NIGHTSHIFT_MODELS": str(models), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "deployments.operations.cli", "bootstrap", "--profile", "home-test", *options],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.timeout(400)
def test_bootstrap_creates_its_home_and_exports_the_embedding_model_once(prefect_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home, models = tmp_path / "not" / "there" / "yet", tmp_path / "models"
    first = _bootstrap_command(home, models)
    assert (home / "nightshift.db").is_file()  # no "unable to open database file"
    export = SentenceTransformerEmbedder(export_folder=str(models)).export_path()
    assert (export / FP32_FILE).is_file() and (export / INT8_FILE.format(config="avx512_vnni")).is_file()
    said = re.search(r"embedding model: exported (\S+) in (\d+\.\d) s", first.stdout)
    assert said and said.group(1) == SentenceTransformerEmbedder().model_name, first.stdout
    assert "exporting" in first.stdout.split(said.group(0))[0]  # announced before the wait
    again = _bootstrap_command(home, models)
    assert f"exported already ({export})" in again.stdout and " in " not in again.stdout.split("embedding model:")[-1]


@flow(name="embed-probe")
def embed_probe(export_folder: str) -> int:
    return len(SentenceTransformerEmbedder(export_folder=export_folder).embed(["a sentence to embed"])[0])


def test_a_run_without_an_export_exports_it_and_says_why(prefect_api, tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    source = SentenceTransformerEmbedder().export_path()
    SentenceTransformerEmbedder().prepare()  # the session's shared export (made once per cache)
    folder = tmp_path / "models"
    target = SentenceTransformerEmbedder(export_folder=str(folder)).export_path()
    shutil.copytree(source, target)
    (target / INT8_FILE.format(config="avx512_vnni")).unlink()  # bootstrap did not run here: only fp32 is left
    state = embed_probe(str(folder), return_state=True)
    assert state.is_completed() and state.result() == 384
    messages = [r.getMessage() for r in caplog.records if r.name == "prefect.flow_runs"]  # the run's own log
    assert any("has no ONNX export" in m and "nightshift bootstrap" in m for m in messages), messages
    assert any(m.startswith("exported ") for m in messages), messages
    assert (target / INT8_FILE.format(config="avx512_vnni")).is_file()

