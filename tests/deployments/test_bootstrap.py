"""Bootstrap against a real Prefect API: block types, profile documents, work pools, migrations."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolUpdate

from blocks.llm import OpenAICompatibleLLM
from blocks.mailer import OutboxMailer
from blocks.offline import OfflineLLM
from blocks.profile import NightshiftProfile
from blocks.storage import LocalFolderStorage
from deployments.bootstrap import base_job_template, bootstrap, embedded_profile, save_profile


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
