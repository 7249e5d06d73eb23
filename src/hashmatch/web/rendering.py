"""Pages rendered from the package's Jinja2 templates, with what every page shows.

    return render(request, "banks/list.html", viewer, banks=banks)

Every page gets the viewer, the navigation their role may follow, the CSRF
token for its forms and the notice left by the change before it (a cookie
set by :func:`done`, shown once).  Templates escape everything they print.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from hashmatch import __version__
from hashmatch.web.access import Viewer

#: The cookie that carries a notice ("Bank created") to the page after a change.
NOTICE_COOKIE = "hashmatch_notice"


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    permission: str


NAVIGATION = (
    NavItem("Dashboard", "/ui/", "view"),
    NavItem("Review", "/ui/review", "review"),
    NavItem("Reports", "/ui/reports", "report"),
    NavItem("Evidence", "/ui/evidence", "evidence"),
    NavItem("Statements", "/ui/statements", "evidence"),
    NavItem("Banks", "/ui/banks", "read"),
    NavItem("Match tester", "/ui/match", "test"),
    NavItem("Rules", "/ui/rules", "read"),
    NavItem("Webhooks", "/ui/webhooks", "read"),
    NavItem("API keys", "/ui/keys", "admin"),
    NavItem("Users", "/ui/users", "admin"),
    NavItem("Audit log", "/ui/audit", "audit"),
    NavItem("Transparency", "/ui/transparency", "read"),
    NavItem("Settings", "/ui/settings", "admin"),
    NavItem("System", "/ui/system", "read"),
)


def _moment(value: datetime | None) -> str:
    """A time as people read it in a table: UTC, to the second."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _count(value: int | float) -> str:
    return f"{value:,}"


environment = Environment(
    loader=PackageLoader("hashmatch.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["moment"] = _moment
environment.filters["count"] = _count
environment.globals["version"] = __version__


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    notice = request.cookies.get(NOTICE_COOKIE)
    fallback_token = context.pop("csrf_token", "")
    body = environment.get_template(template).render(
        request=request,
        viewer=viewer,
        csrf_token=viewer.csrf_token if viewer else fallback_token,
        navigation=[item for item in NAVIGATION if viewer and viewer.can(item.permission)],
        path=request.url.path,
        notice=unquote(notice) if notice else None,
        **context,
    )
    response = HTMLResponse(body, status_code=status, headers=_SECURITY_HEADERS)
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path="/ui")
    return response


def done(location: str, notice: str) -> RedirectResponse:
    """The answer to a change that worked: back to a page that says so once."""
    response = RedirectResponse(location, status_code=303)
    response.set_cookie(
        NOTICE_COOKIE, quote(notice), max_age=60, path="/ui", httponly=True, samesite="lax"
    )
    return response


#: No page may be framed or run a script from anywhere but this server.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
