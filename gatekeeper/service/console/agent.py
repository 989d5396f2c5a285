"""Agente: the agents' page inside the console ("may I call?" first), on the session."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response

from gatekeeper.service.console import Visit, page
from gatekeeper.service.page import console_agent_page

# The page's one script and style are inline (it is also served alone at "/"); it talks
# to the service only.
AGENT_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'")


@page("agente")
async def agent(visit: Visit) -> Response:
    return HTMLResponse(console_agent_page(visit.session.csrf, visit.caller.name,
                                           visit.caller.agency,
                                           zone=visit.console.jobs.ws.config()
                                           .jurisdiction.timezone_name),
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                 "Content-Security-Policy": AGENT_POLICY})
