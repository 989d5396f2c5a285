"""The service beside the batch pipeline: agents log opt-outs, dialers ask before calling."""

from gatekeeper.service.app import create_app, serve

__all__ = ["create_app", "serve"]
