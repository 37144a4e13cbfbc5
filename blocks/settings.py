"""Process settings (environment variables prefixed NIGHTSHIFT_); everything else lives in blocks."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Which profile of block documents to load, and where the embedded default keeps its files."""

    model_config = SettingsConfigDict(env_prefix="NIGHTSHIFT_")

    profile: str = Field("local", description="Name of the nightshift-profile block document to load.")
    home: Path = Field(Path.home() / ".nightshift", description="Data folder of the embedded default.")


def get_settings() -> Settings:
    return Settings()
