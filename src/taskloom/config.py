"""Settings: the only place that reads the environment. Built once at the edge, passed down."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///taskloom.db"


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """How user code (`code` nodes) is run: always outside the server process."""

    mode: Literal["auto", "bwrap", "subprocess"] = "auto"
    pool_size: int = 4  # warm interpreters kept ready
    max_runs_per_interpreter: int = 500  # recycle after this many runs
    memory_limit_mb: int = 512
    cpu_limit_s: int = 30  # per interpreter lifetime (RLIMIT_CPU)
    output_limit_bytes: int = 1_048_576
    input_limit_bytes: int = 4_194_304
    code_limit_bytes: int = 262_144


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """The claim loop, leases and the sweeper."""

    concurrency: int = 64  # tasks run at once by one worker process
    lease_s: float = 15.0
    heartbeat_s: float = 3.0
    sweep_s: float = 5.0
    poll_s: float = 0.5  # fallback when no wake-up hint arrives
    max_attempts: int = 3
    node_timeout_s: float = 60.0
    max_node_runs: int = 1000  # per turn: bounds loops made with node_pointer
    shutdown_grace_s: float = 10.0
    # a node still running after this long gets its node_started event written on its own;
    # a faster one has it written with its finish, in one transaction
    progress_delay_s: float = 0.05


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Limits enforced at the HTTP edge."""

    max_body_bytes: int = 4_194_304
    max_nodes: int = 200
    max_per_page: int = 50
    sync_wait_s: float = 300.0  # a sync invoke waits this long, then answers 202
    key_cache_s: float = 30.0


class Settings(BaseSettings):
    """Every knob, from TASKLOOM_* variables; the CLI overrides a few with flags."""

    model_config = SettingsConfigDict(env_prefix="TASKLOOM_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    embedded_workers: bool = True

    worker_concurrency: int = 64
    lease_s: float = 15.0
    heartbeat_s: float = 3.0
    sweep_s: float = 5.0
    poll_s: float = 0.5
    max_attempts: int = 3
    node_timeout_s: float = 60.0
    max_node_runs: int = 1000
    shutdown_grace_s: float = 10.0
    progress_delay_s: float = 0.05

    sandbox_mode: Literal["auto", "bwrap", "subprocess"] = "auto"
    sandbox_pool_size: int = 4
    sandbox_memory_limit_mb: int = 512
    sandbox_output_limit_bytes: int = 1_048_576

    max_body_bytes: int = 4_194_304
    max_nodes: int = 200
    sync_wait_s: float = 300.0

    def worker(self) -> WorkerConfig:
        return WorkerConfig(
            concurrency=self.worker_concurrency,
            lease_s=self.lease_s,
            heartbeat_s=self.heartbeat_s,
            sweep_s=self.sweep_s,
            poll_s=self.poll_s,
            max_attempts=self.max_attempts,
            node_timeout_s=self.node_timeout_s,
            max_node_runs=self.max_node_runs,
            shutdown_grace_s=self.shutdown_grace_s,
            progress_delay_s=self.progress_delay_s,
        )

    def sandbox(self) -> SandboxConfig:
        return SandboxConfig(
            mode=self.sandbox_mode,
            pool_size=self.sandbox_pool_size,
            memory_limit_mb=self.sandbox_memory_limit_mb,
            output_limit_bytes=self.sandbox_output_limit_bytes,
        )

    def api(self) -> ApiConfig:
        return ApiConfig(
            max_body_bytes=self.max_body_bytes,
            max_nodes=self.max_nodes,
            sync_wait_s=self.sync_wait_s,
        )
