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
    models: Path | None = Field(
        None, description="Where ONNX exports of embedding models are kept (made by `nightshift bootstrap`); "
        "empty = HOME/models. An embedder block's own export_folder takes precedence."
    )


def get_settings() -> Settings:
    return Settings()


class PdfLimits(BaseSettings):
    """What one PDF may cost a worker (NIGHTSHIFT_PDF_*): beyond any of these the source fails, naming it."""

    model_config = SettingsConfigDict(env_prefix="NIGHTSHIFT_PDF_")

    max_pages: int = Field(2000, gt=0, description="Pages per document.")
    max_image_pixels: int = Field(25_000_000, gt=0, description="Pixels (width × height) per embedded image.")
    max_asset_bytes: int = Field(100_000_000, gt=0, description="Bytes per saved image or table.")
    partition_memory_mb: int = Field(2048, gt=0, description="Address space of one partition process, in MiB.")
    partition_seconds: int = Field(300, gt=0, description="Wall time of one page batch in a partition process.")
    pages_per_batch: int = Field(50, gt=0, le=1000, description="Pages one partition process reads at a time.")
    retry_delays: list[float] = Field(
        [2, 8, 30], description="Seconds between the retries of the database and object-store steps."
    )


class JobsApiLimits(BaseSettings):
    """What one request may cost the Jobs API (NIGHTSHIFT_JOBS_API_*)."""

    model_config = SettingsConfigDict(env_prefix="NIGHTSHIFT_JOBS_API_")

    max_body_bytes: int = Field(1_048_576, gt=0, description="Request bodies beyond this are refused (413).")


class RecommenderLimits(BaseSettings):
    """What unpacking one recommender package may write (NIGHTSHIFT_RECOMMENDER_*)."""

    model_config = SettingsConfigDict(env_prefix="NIGHTSHIFT_RECOMMENDER_")

    max_unpacked_bytes: int = Field(1_073_741_824, gt=0, description="Sum of the package's file sizes.")
