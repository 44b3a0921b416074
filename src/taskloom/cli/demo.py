"""`taskloom demo-model`: serve the small local model of the `demo` extra on loopback."""

from __future__ import annotations

from typing import Annotated

import typer

from taskloom import logs
from taskloom.cli.server import settings_for


def demo_model(
    host: Annotated[str | None, typer.Option(help="address to listen on (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on (8765)")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for the model (2)")] = None,
) -> None:
    """Serve SmolLM2-135M-Instruct as an OpenAI-compatible endpoint at /v1 (needs the demo
    extra). Point taskloom's OpenAI provider at it: no key, no network."""
    import uvicorn

    from taskloom.demo.app import create_app
    from taskloom.demo.model import DemoModel

    settings = settings_for(
        None, demo_model_host=host, demo_model_port=port, demo_model_threads=threads
    )
    logs.configure(settings.log_level, settings.log_format)
    config = settings.demo_model()
    model = DemoModel.load(config)
    typer.echo(f"demo model at http://{config.host}:{config.port}/v1", err=True)
    uvicorn.run(
        create_app(model),
        host=config.host,
        port=config.port,
        log_level="warning",
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
    )
