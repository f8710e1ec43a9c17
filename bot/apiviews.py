"""What the run API answers, as plain JSON (pure: a run in, a dict out) and its OpenAPI document.

The step results are the evidence the card shows (who confirmed, what a node answered, which
source a gate used); executor-private data (monitor samples) stays out.
"""

from __future__ import annotations

from typing import Any

from workflows.model import Run, RunStatus

__all__ = ["OPENAPI", "card_url", "run_document", "run_summary"]


def card_url(channel: str, ts: str) -> str:
    """Slack's permalink form for a message (it redirects to the workspace of whoever opens it)."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def run_summary(run: Run) -> dict[str, Any]:
    current = run.current
    return {
        "id": run.id,
        "workflow": run.workflow,
        "title": run.title,
        "status": run.status.value,
        "environment": run.environment,
        "initiator": run.initiator,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "current_step": None if current is None else {
            "id": current[0].id, "title": current[0].title, "status": current[1].status.value,
        },
        "reason": run.reason,
        "links": {"self": f"/api/v1/runs/{run.id}"},
    }


def run_document(run: Run, card: tuple[str, str] | None) -> dict[str, Any]:
    steps = []
    for planned, state in zip(run.plan, run.steps, strict=True):
        steps.append({
            "id": planned.id,
            "title": planned.title,
            "kind": planned.kind.value,
            "environment": planned.environment,
            "status": state.status.value,
            "started_at": state.started_at.isoformat() if state.started_at else None,
            "finished_at": state.finished_at.isoformat() if state.finished_at else None,
            "evidence": state.result,
            "confirmed_by": state.confirmed_by,
            "inputs": state.inputs,
            "note": state.note,
            "error": state.error,
        })
    return {
        **run_summary(run),
        "params": run.params,
        "parent_run_id": run.parent_run_id,
        "superseded_by": run.superseded_by,
        "card": None if card is None else {
            "channel": card[0], "ts": card[1], "url": card_url(*card),
        },
        "steps": steps,
    }


_ERROR = {"type": "object", "required": ["error", "message"], "properties": {
    "error": {"type": "string", "description": "a stable code (invalid_parameters, ...)"},
    "message": {"type": "string", "description": "the same text Slack would show"},
}}
_RUN = {"type": "object", "required": ["id", "workflow", "status"], "properties": {
    "id": {"type": "string"}, "workflow": {"type": "string"}, "title": {"type": "string"},
    "status": {"type": "string", "enum": [s.value for s in RunStatus]},
    "environment": {"type": ["string", "null"]}, "initiator": {"type": "string"},
    "current_step": {"type": ["object", "null"]}, "reason": {"type": ["string", "null"]},
    "steps": {"type": "array", "items": {"type": "object"}},
    "card": {"type": ["object", "null"]},
}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_AUTH_ERRORS = {
    "401": _error("no bearer token, or an unknown one"),
    "429": _error("too many requests for this token (Retry-After says when to come back)"),
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "parthenon-bot run API", "version": "1",
             "description": "Start and follow runbook workflows from a pipeline. Approvals and "
                            "confirmations still come from people in Slack."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": _ERROR, "Run": _RUN},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/runs": {
            "post": {
                "summary": "Start a run",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                "schema": {"type": "string", "maxLength": 128},
                                "description": "a retried request with the same key returns "
                                               "the run the first one started"}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["workflow"], "additionalProperties": False,
                    "properties": {
                        "workflow": {"type": "string"},
                        "params": {"type": "object",
                                   "additionalProperties": {"type": "string"}},
                    }}}}},
                "responses": {
                    "201": {"description": "started", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Run"}}}},
                    "400": _error("the body or a parameter is not valid"),
                    "403": _error("this token may not start this workflow"),
                    "409": _error("refused by policy: an environment is locked, promotions "
                                  "are frozen"),
                    **_AUTH_ERRORS,
                },
            },
            "get": {
                "summary": "List runs",
                "parameters": [{"name": "status", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["active", "recent"]}}],
                "responses": {
                    "200": {"description": "runs", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"runs": {
                            "type": "array", "items": {"$ref": "#/components/schemas/Run"}}}}}}},
                    "400": _error("an unknown status filter"),
                    **_AUTH_ERRORS,
                },
            },
        },
        "/api/v1/runs/{run_id}": {
            "get": {
                "summary": "A run: status, current step, every step with its evidence, the card",
                "parameters": [{"name": "run_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "the run", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Run"}}}},
                    "404": _error("no such run"),
                    **_AUTH_ERRORS,
                },
            },
        },
    },
}
