"""The console's routes, under /console, each an ApiRoute of the service (its access-log
template and its body limit: uploads may be larger than API bodies, up to the limit)."""

from __future__ import annotations

from typing import Any

from gatekeeper.service.console import job_retry, job_state, job_view, static
from gatekeeper.service.console.agent import agent
from gatekeeper.service.console.campaigns import campaigns
from gatekeeper.service.console.campaigns import download as campaign_file
from gatekeeper.service.console.campaigns import start as start_run
from gatekeeper.service.console.lists import lists, load_again, rejects
from gatekeeper.service.console.lists import save as save_list
from gatekeeper.service.console.lists import upload as upload_list
from gatekeeper.service.console.privacy import erase, letter, privacy, search
from gatekeeper.service.console.register import answer, make_request, register, web_check
from gatekeeper.service.console.register import download as request_file
from gatekeeper.service.console.signin import home, signin, signin_page, signout

FORM_LIMIT = 64 * 1024  # a form without a file


def console_routes(route: Any, upload_limit: int) -> list[Any]:
    """`route` is the service's route class (ApiRoute), passed in so this package does not
    import the app that mounts it."""
    post = ["POST"]
    return [
        route("/console", home), route("/console/", home),
        route("/console/static/{name}", static),
        route("/console/accesso", signin_page),
        route("/console/accesso", signin, methods=post, max_body=FORM_LIMIT),
        route("/console/esci", signout, methods=post, max_body=FORM_LIMIT),
        route("/console/liste", lists),
        route("/console/liste", upload_list, methods=post, max_body=upload_limit),
        route("/console/liste/salva", save_list, methods=post, max_body=FORM_LIMIT),
        route("/console/liste/carica", load_again, methods=post, max_body=FORM_LIMIT),
        route("/console/liste/{source}/scarti.csv", rejects),
        route("/console/registro", register),
        route("/console/registro/richiesta", make_request, methods=post, max_body=FORM_LIMIT),
        route("/console/registro/richieste/{name}", request_file),
        route("/console/registro/web", web_check, methods=post, max_body=FORM_LIMIT),
        route("/console/registro/risposta", answer, methods=post, max_body=upload_limit),
        route("/console/campagne", campaigns),
        route("/console/campagne", start_run, methods=post, max_body=FORM_LIMIT),
        route("/console/campagne/file/{name}", campaign_file),
        route("/console/privacy", privacy),
        route("/console/privacy/cerca", search, methods=post, max_body=FORM_LIMIT),
        route("/console/privacy/lettera", letter, methods=post, max_body=FORM_LIMIT),
        route("/console/privacy/cancella", erase, methods=post, max_body=FORM_LIMIT),
        route("/console/agente", agent),
        route("/console/lavori/{job}", job_view),
        route("/console/lavori/{job}/stato", job_state),
        route("/console/lavori/{job}/riprova", job_retry, methods=post, max_body=FORM_LIMIT),
    ]
