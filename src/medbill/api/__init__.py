"""The REST API (FastAPI): thin routes over ``medbill.services``; OpenAPI at ``/docs``."""

from medbill.api.app import create_app

__all__ = ["create_app"]
