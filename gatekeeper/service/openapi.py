"""The service's OpenAPI description (served at /openapi.json), written by hand so it says
what the endpoints promise, in the words clients need."""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "JSON error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
_AUTH_ERRORS = {"401": _ERROR, "403": _ERROR, "422": _ERROR}
# 400 invalid_json (not JSON, not an object, nested too deeply); 408 body_timeout (the
# body took longer than serve's --body-timeout); 413 body_too_large.
_BODY_ERRORS = {"400": _ERROR, "408": _ERROR, "413": _ERROR}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Gatekeeper service", "version": "1",
             "description": "Opt-outs, calls and dial checks for agents and dialers; "
                            "disclosure for "
                            "the privacy officer. Bearer tokens with roles agent, dialer, "
                            "privacy ('gatekeeper token add'). Request bodies are limited to "
                            "1 MiB (batch endpoints: 10 MiB): a larger Content-Length, or a "
                            "chunked body that grows past the limit, is answered 413 "
                            "body_too_large; headers must arrive within 10 s and a body "
                            "within 30 s (serve's --header-timeout, --body-timeout), else "
                            "408."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "status": {"type": "integer"}, "code": {"type": "string"},
                "message": {"type": "string"},
                "bound_agency": {"type": "string", "description": "403 agency_not_bound: "
                                 "the agency the token reports calls of"}}}}},
            "OptoutIn": {"type": "object", "required": ["phone"], "properties": {
                "phone": {"type": "string", "examples": ["333 123 4567"]},
                "channel": {"enum": ["operator", "email", "letter", "web", "api"],
                            "description": "default: operator for agents, api otherwise"},
                "scope": {"enum": ["all", "telemarketing", "survey"], "default": "all"},
                "note": {"type": "string", "maxLength": 500},
                "received_at": {"type": "string", "description": "ISO 8601; default now"}}},
            "Optout": {"type": "object", "properties": {
                "ref": {"type": "integer", "description": "journal sequence number"},
                "phone": {"type": "string"},
                "at": {"type": "string", "description": "ISO 8601 in local time with its "
                       "offset, as every instant answered"},
                "channel": {"type": "string"}, "scope": {"type": "string"},
                "recorded_by": {"type": "string"}, "recorded_at": {"type": "string"},
                "note": {"type": "string"}}},
            "Check": {"type": "object", "properties": {
                "phone": {"type": "string"}, "purpose": {"type": "string"},
                "at": {"type": "string", "description": "every instant answered: ISO 8601 in "
                       "local time with its offset", "examples": ["2026-11-23T10:00:00+01:00"]},
                "dialable": {"type": "boolean"},
                "decision": {"enum": ["dialable", "suppressed"]},
                "reason": {"type": ["string", "null"],
                           "description": "null when dialable; else a reason code of the "
                                          "decision table, or NO_RUN (no run for the "
                                          "purpose) / NO_SOURCE (the number is in no list "
                                          "of the run)"},
                "reason_text": {"type": ["string", "null"],
                                "description": "null when dialable; else the reason in "
                                               "Italian words, to show to an operator",
                                "examples": ["l'interessato si è opposto alle chiamate"]},
                "basis": {"type": ["string", "null"],
                          "description": "null when suppressed; else the legal basis code"},
                "basis_text": {"type": ["string", "null"],
                               "description": "the basis in words, citing its law"},
                "valid_until": {"type": ["string", "null"]},
                "next_allowed_at": {"type": ["string", "null"],
                                    "description": "when reason is OUTSIDE_CALLING_HOURS: "
                                                   "the next instant calls may be made"},
                "run_id": {"type": ["string", "null"]},
                "campaign": {"type": ["string", "null"]}}},
            "CheckMany": {"type": "object", "required": ["numbers"], "properties": {
                "purpose": {"enum": ["telemarketing", "survey"], "default": "telemarketing"},
                "campaign": {"type": "string"}, "agency": {"type": "string"},
                "caller_id": {"type": "string"},
                "numbers": {"type": "array", "maxItems": 10000,
                            "items": {"type": "string"}}}},
            "Call": {"type": "object",
                     "required": ["call_id", "phone", "started_at", "outcome"],
                     "properties": {
                         "call_id": {"type": "string",
                                     "description": "the dialer's id, unique per agency"},
                         "agency": {"type": "string", "description": "agencies/<id>.toml; "
                                    "default: the token's agency (required without one); "
                                    "a token bound to an agency may name no other (403 "
                                    "agency_not_bound)"},
                         "phone": {"type": "string"}, "campaign": {"type": "string"},
                         "agent": {"type": "string", "description": "default: the token"},
                         "caller_id": {"type": "string", "description": "the number "
                                       "shown; for an inbound call, the line the person "
                                       "called"},
                         "direction": {"enum": ["outbound", "inbound"],
                                       "default": "outbound", "description": "inbound: only "
                                       "with a token bound to the agency (403 "
                                       "inbound_needs_agency_token), whose manifest says "
                                       "inbound = true (422 inbound_not_declared), to one of "
                                       "its inbound_numbers when it lists them (422 "
                                       "inbound_line_undeclared)"},
                         "started_at": {"type": "string", "description": "ISO 8601; no "
                                        "offset: local time of the workspace's "
                                        "jurisdiction; not in the future"},
                         "duration_s": {"type": "integer", "minimum": 0},
                         "outcome": {"enum": ["no_answer", "busy", "failed", "voicemail",
                                              "abandoned", "answered", "refused",
                                              "callback", "optout", "wrong_number", "sale"],
                                     "description": "optout also records an objection"}}},
            "Calls": {"type": "object", "properties": {
                "stored": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}},
                "already_recorded": {"type": "array", "description": "as first stored",
                                     "items": {"$ref": "#/components/schemas/Call"}},
                "optouts_recorded": {"type": "integer"}}},
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/healthz": {"get": {"summary": "Liveness and which runs answer checks",
                             "security": [], "responses": {"200": {"description": "ok"}}}},
        "/v1/optouts": {"post": {
            "summary": "Record an objection (agent, privacy); 201 once it is on disk",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/OptoutIn"}}}},
            "responses": {"201": {"description": "durably recorded", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Optout"}}}},
                **_AUTH_ERRORS, **_BODY_ERRORS}}},
        "/v1/check": {"get": {
            "summary": "May this number be dialled now? (agent, dialer, privacy)",
            "parameters": [
                {"name": "phone", "in": "query", "required": True,
                 "schema": {"type": "string"}},
                {"name": "purpose", "in": "query",
                 "schema": {"enum": ["telemarketing", "survey"], "default": "telemarketing"}},
                {"name": "campaign", "in": "query", "schema": {"type": "string"},
                 "description": "answer from this campaign's latest run"},
                {"name": "agency", "in": "query", "schema": {"type": "string"},
                 "description": "the call centre that would call (rule 12)"},
                {"name": "caller_id", "in": "query", "schema": {"type": "string"},
                 "description": "the number the call would show (rule 13)"}],
            "responses": {"200": {"description": "the decision", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Check"}}}},
                "503": _ERROR, **_AUTH_ERRORS}},
            "post": {
                "summary": "May these numbers be dialled now? Up to 10,000, answers in order",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CheckMany"}}}},
                "responses": {"200": {"description": "one decision per number", "content": {
                    "application/json": {"schema": {"type": "array", "items": {
                        "$ref": "#/components/schemas/Check"}}}}},
                    "503": _ERROR, **_AUTH_ERRORS, **_BODY_ERRORS}}},
        "/v1/calls": {"post": {
            "summary": "Record call attempts (agent, dialer, privacy): one Call, or "
                       "{\"calls\": [...]} up to 1,000; durable when answered; a dialer "
                       "token reports its agency's calls only (one made without an agency: "
                       "403 token_without_agency)",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"oneOf": [{"$ref": "#/components/schemas/Call"}, {
                    "type": "object", "properties": {"calls": {
                        "type": "array", "maxItems": 1000,
                        "items": {"$ref": "#/components/schemas/Call"}}}}]}}}},
            "responses": {"201": {"description": "at least one call stored", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Calls"}}}},
                "200": {"description": "every call was already recorded (same agency and "
                                       "call_id): answered as first stored", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Calls"}}}},
                **_AUTH_ERRORS, **_BODY_ERRORS}}},
        "/v1/disclosure/{phone}": {"get": {
            "summary": "Everything held about a number (privacy only)",
            "parameters": [{"name": "phone", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "keys phone, sources, rpo_checks, optouts, "
                                                 "campaigns, calls, erased"},
                          "404": _ERROR, "503": _ERROR, **_AUTH_ERRORS}}},
    },
}
