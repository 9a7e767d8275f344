"""The OpenAPI document's part for the pages' sign-in: GET and POST /signin, POST /signout
(app.signin)."""

from __future__ import annotations

from typing import Any

_NAMES = {413: "PayloadTooLarge", 429: "TooManyRequests", 503: "ServiceUnavailable"}


def _refs(*codes: int) -> dict[str, Any]:
    return {str(c): {"$ref": f"#/components/responses/{_NAMES[c]}"} for c in codes}


def paths(html: dict[str, Any]) -> dict[str, Any]:
    """The pages' sign-in form, its post, and the sign-out (app.signin)."""
    form = {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "csrf_token": {"type": "string"},
                        "name": {"type": "string", "maxLength": 64},
                        "password": {"type": "string", "maxLength": 1024},
                        "token": {"type": "string", "maxLength": 200},
                        "next": {"type": "string", "description": "A path on this site."},
                    },
                    "required": ["csrf_token"],
                }
            }
        },
    }
    moved = {"description": "Signed in (or out): on to `next` (a path on this site) or /signin."}
    return {
        "/signin": {
            "get": {
                "summary": "HTML sign-in form: an API token, or a user's name and password.",
                "tags": ["pages"],
                "parameters": [{"name": "next", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": html, **_refs(503)},
            },
            "post": {
                "summary": "Sign in: sets the session cookie (HttpOnly, SameSite=Lax, Secure "
                "over HTTPS); needs the form's CSRF token; rate-limited per client address.",
                "tags": ["pages"],
                "requestBody": form,
                "responses": {
                    "303": moved,
                    "400": {**html, "description": "No valid CSRF token: the form again."},
                    "401": {**html, "description": "Sign-in failed: the form again."},
                    **_refs(413, 429, 503),
                },
            },
        },
        "/signout": {
            "post": {
                "summary": "Sign out: ends the session (its CSRF token needed).",
                "tags": ["pages"],
                "responses": {
                    "303": moved,
                    "400": {**html, "description": "No valid CSRF token."},
                },
            }
        },
    }
