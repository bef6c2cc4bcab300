"""Settings: every one is an environment variable with the ``BIFROST_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_ADMIN_TOKEN_LENGTH = 24
"""A configured admin token is stored as an unsalted SHA-256: it must be long enough that the hash
cannot be reversed by guessing."""


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting (a short admin token) is never echoed in the error.
    model_config = SettingsConfigDict(
        env_prefix="BIFROST_", extra="ignore", env_ignore_empty=True, hide_input_in_errors=True
    )

    data_dir: Path = Field(Path(".bifrost"), description="Holds the SQLite file and object store.")
    database_url: SecretStr | None = Field(
        None, description="postgresql://user@host/db; empty means the embedded SQLite file."
    )
    redis_url: SecretStr | None = Field(
        None, description="redis://host:port/n; empty means embedded mode (no Redis)."
    )
    cache_prefix: str = Field("bifrost:", description="Prefix of every Redis key.")
    object_store: str | None = Field(
        None,
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
        description="s3://bucket/prefix: binary and large files go to this S3-compatible store; "
        "empty means <data_dir>/objects.",
    )
    object_store_endpoint_url: str | None = Field(
        None, description="The S3 endpoint (MinIO, Ceph, R2...); empty means AWS's own."
    )
    object_store_region: str | None = Field(None, description="The bucket's region.")
    object_store_access_key_id: str | None = Field(
        None, description="Empty: the usual AWS chain (environment, profile, instance role)."
    )
    object_store_secret_access_key: SecretStr | None = Field(
        None, description="Secret of the access key id."
    )
    admin_token: SecretStr | None = Field(
        None, description="Admin API token; when unset, the first init prints a new one."
    )
    host: str = "127.0.0.1"
    port: int = 8000
    api_url: str | None = Field(None, description="Where the CLI finds the API.")

    workspace_root: str = Field(
        "/tmp/bifrost/workspace", description="Virtual root that workspace modules import under."
    )
    virtual_imports: bool = Field(
        True, description="False: import from export_dir instead (the rollback path)."
    )
    export_dir: Path | None = Field(
        None, description="Directory written by `bifrost export`, used when virtual_imports=false."
    )
    max_file_bytes: int = Field(5 * 1024 * 1024, description="Largest file a write accepts.")
    max_request_bytes: int = Field(
        1024 * 1024, gt=0, description="Largest JSON request body (file uploads: max_file_bytes)."
    )
    max_parameter_depth: int = Field(
        32, gt=0, description="Deepest nesting of lists and objects in execution parameters."
    )
    max_parameters_bytes: int = Field(
        256 * 1024, gt=0, description="Largest execution parameters, as compact JSON."
    )

    worker_concurrency: int = Field(4, description="Executions one worker runs at once.")
    worker_shutdown_grace_s: int = Field(
        30, description="On stop, how long a worker lets running executions finish."
    )
    reap_interval_s: float = Field(
        30.0,
        gt=0,
        description="How often workers and schedulers close the work of dead processes, and how "
        "old a pending execution or job must be before its lost queue task closes it.",
    )
    max_execution_timeout_s: float = Field(
        24 * 3600.0,
        gt=0,
        allow_inf_nan=False,
        description="Largest timeout a run may have (BIFROST_EXECUTION_TIMEOUT_S, @workflow).",
    )
    execution_timeout_s: float = Field(
        300.0, gt=0, allow_inf_nan=False, description="Default wall-clock limit per run."
    )
    execution_memory_mb: int = Field(
        1024, description="Memory limit per run (its cgroup, and RLIMIT_AS per process)."
    )
    execution_pids_max: int = Field(
        256, ge=8, description="Processes and threads one run may have at once (its cgroup)."
    )
    execution_scratch_mb: int = Field(
        512, ge=1, description="Size of a run's private /tmp and /dev/shm (counted as memory)."
    )
    execution_log_bytes: int = Field(
        2 << 20, ge=1024, description="Output kept per run (its start and its end)."
    )
    execution_buffer_bytes: int = Field(
        64 << 20,
        ge=1 << 20,
        description="Replies a run may leave unread on its channel before it is stopped.",
    )
    sandbox: Literal["on", "off"] = Field(
        "on",
        description="off: run executions and package builds unconfined (logged loudly). With on, "
        "they refuse to run where the kernel cannot confine them.",
    )
    sandbox_uid_base: int = Field(
        2_000_000_000,
        ge=1,
        description="First of 65536 uids (and gids) reserved for confined processes.",
    )
    sandbox_hide: list[str] = Field(
        [], description="More directories executions and builds must not see (JSON list)."
    )
    packages_dir: Path | None = Field(
        None, description="Where workers install user packages; default <data_dir>/packages."
    )
    package_installer: Literal["auto", "uv", "pip"] = Field(
        "auto", description="auto (uv when found, else pip), uv or pip: installs user packages."
    )
    package_index_args: str = Field(
        "",
        description="Index options for uv/pip, shell-quoted, e.g. "
        "'--no-index --find-links /wheels' or '--index-url https://mirror/simple'.",
    )
    package_install_timeout_s: float = Field(600.0, description="Limit per uv/pip run.")
    package_recycle_wait_s: float = Field(
        120.0, description="How long an install waits for every worker to load the new packages."
    )
    package_check_interval_s: float = Field(
        60.0, description="Workers also re-check requirements.txt this often (a lost message)."
    )

    secret_key: SecretStr | None = Field(
        None,
        description="Encrypts secrets at rest (the GitHub token). Unset: a random key is made "
        "once in <data_dir>/secret-key (mode 0600). Set the same value on every API and "
        "scheduler machine.",
    )
    github_api_url: str = Field(
        "https://api.github.com",
        description="GitHub's REST API: https://host/api/v3 for GitHub Enterprise Server, or "
        "the fake GitHub (python -m bifrost.testing.fake_github).",
    )
    github_timeout_s: float = Field(30.0, gt=0, description="Limit per GitHub request.")
    github_max_retries: int = Field(
        5,
        ge=0,
        description="Retries of a rate-limited or failed GitHub request that is safe to repeat.",
    )
    github_max_backoff_s: float = Field(
        120.0, gt=0, description="Longest wait between GitHub retries (rate limits included)."
    )
    github_concurrency: int = Field(
        4, ge=1, le=16, description="GitHub blob downloads in flight during a pull."
    )
    github_sync_lease_s: float = Field(
        60.0,
        gt=0,
        description="How long a sync's lock outlives its last renewal (renewed while it runs): "
        "after a crash, the next sync can start once this has passed.",
    )

    github_webhook_secret: SecretStr | None = Field(
        None,
        description="The secret of the repository's push webhook (POST /api/github/webhook "
        "checks X-Hub-Signature-256 with it); without it every webhook call is refused.",
    )
    sync_auto: bool = Field(
        True,
        description="Automatic sync in `bifrost scheduler` (and `bifrost up`): GitHub once "
        "connected, and the cache and object store checks.",
    )
    sync_interval_s: float = Field(
        60.0, gt=0, description="How often automatic sync polls the GitHub branch."
    )
    sync_reconcile_interval_s: float = Field(
        300.0,
        gt=0,
        description="How often automatic sync checks the module cache, the requirements entry "
        "and the object store against the database.",
    )
    sync_lease_s: float = Field(
        30.0,
        gt=0,
        description="The automatic-sync leader's lease: when its scheduler dies, another takes "
        "over within this time (plus one sixth of it).",
    )
    sync_breaker_failures: int = Field(
        5, ge=1, description="GitHub failures in a row after which automatic sync pauses."
    )
    sync_breaker_cooldown_s: float = Field(
        300.0, gt=0, description="How long automatic sync pauses once the breaker opened."
    )
    sync_auto_push: bool = Field(
        False, description="Automatic sync also pushes local changes to the branch."
    )

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"BIFROST_ADMIN_TOKEN is {len(token.get_secret_value())} characters long; "
                f"use at least {MIN_ADMIN_TOKEN_LENGTH} random characters "
                "(or unset it and let `bifrost init` mint one)"
            )
        return token

    @field_validator("execution_timeout_s")
    @classmethod
    def _within_maximum(cls, timeout: float, info: ValidationInfo) -> float:
        maximum = info.data.get("max_execution_timeout_s")
        if maximum is not None and timeout > maximum:
            raise ValueError(
                f"BIFROST_EXECUTION_TIMEOUT_S is {timeout:g} s, above "
                f"BIFROST_MAX_EXECUTION_TIMEOUT_S ({maximum:g} s); lower it or raise the maximum"
            )
        return timeout

    @property
    def embedded(self) -> bool:
        return self.redis_url is None

    @property
    def token_file(self) -> Path:
        """Where `bifrost init` saves a new admin token for the CLI on this machine."""
        return self.data_dir.resolve() / "admin-token"

    @property
    def secret_key_file(self) -> Path:
        """Where the embedded default keeps its generated secret key."""
        return self.data_dir.resolve() / "secret-key"

    @property
    def packages_path(self) -> Path:
        return (self.packages_dir or self.data_dir / "packages").resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()
