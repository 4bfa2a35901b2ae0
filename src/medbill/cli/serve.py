"""``medbill serve``: the REST API (OpenAPI at /docs) on the configured database."""

from __future__ import annotations

import logging

import click

from medbill.cli.common import emit_json, handles_errors, json_option, settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (TLS belongs in front).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@json_option
@handles_errors
def serve_command(host: str, port: int, as_json: bool) -> None:
    """Serve the REST API; OpenAPI documentation at /docs.

    Access lines are written by medbill itself (method, path, status, time, request id: never query
    strings); uvicorn's own access log, which would print query strings, is off.
    """
    import uvicorn

    from medbill.api import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = create_app(settings=settings())
    app.state.settings = settings()
    if as_json:  # one line a supervisor can read: where the API listens
        emit_json({"url": f"http://{host}:{port}", "openapi": f"http://{host}:{port}/openapi.json"})
    else:
        click.echo(f"medbill API on http://{host}:{port}  (OpenAPI: http://{host}:{port}/docs)", err=True)
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", proxy_headers=False)


def register(group: click.Group) -> None:
    group.add_command(serve_command)
