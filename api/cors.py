"""CORS for browser front ends: Starlette's CORSMiddleware with the origins of CIVICGRID_CORS_ORIGINS.

No credentials mode: civicgrid sets no cookies, and a bearer token is a request header, which a preflight allows
through Access-Control-Allow-Headers, not through Access-Control-Allow-Credentials. So `*` (any origin) never
meets credentials. A refused preflight is a JSON error (CORS_REFUSED) without Access-Control-Allow-Origin.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from api.http_errors import error_response
from tenants.settings import Settings

# Any port of the loopback host names: the development default (a front end's dev server on localhost:5173).
LOCALHOST = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?"
METHODS = ("GET", "POST")
HEADERS = ("Authorization", "Content-Type", "X-Civicgrid-Tenant")  # the last: an OIDC user's tenant (api/auth.py)
# Headers a front end reads from civicgrid's answers: retry hints, the 401 reason, an export's file name.
EXPOSED = ("Retry-After", "WWW-Authenticate", "Content-Disposition")


class CivicCORS(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = response.body.decode().removeprefix("Disallowed CORS ").split(", ")
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith(("access-control-", "vary"))}
        return error_response(
            400, "CORS_REFUSED", f"跨域请求被拒绝（{'、'.join(refused)}）",
            f"cross-origin request refused ({', '.join(refused)})", field="origin" if "origin" in refused else None,
            headers=headers, refused=refused,
        )


def cors(settings: Settings) -> Middleware:
    return Middleware(
        CivicCORS,
        allow_origins=settings.cors_origin_list,
        allow_origin_regex=LOCALHOST if settings.cors_localhost else None,
        allow_methods=METHODS,
        allow_headers=HEADERS,
        allow_credentials=False,
        expose_headers=EXPOSED,
        max_age=settings.cors_max_age_seconds,
    )
