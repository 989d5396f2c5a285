"""Agente: the agents' page inside the console ("may I call?" first), on the session."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response

from ..page import console_agent_page
from . import Visit, page


@page("agente")
async def agent(visit: Visit) -> Response:
    return HTMLResponse(console_agent_page(visit.session.csrf, visit.caller.name),
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})
