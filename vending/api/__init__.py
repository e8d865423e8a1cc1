"""The vending service over HTTP (FastAPI on uvicorn): ``create_app`` builds the application.

Routes live in :mod:`vending.api.app`, bodies in :mod:`vending.api.schemas`, the error
vocabulary in :mod:`vending.api.errors`. ``sts serve`` runs it.
"""

from vending.api.app import Limits, create_app

__all__ = ["Limits", "create_app"]
