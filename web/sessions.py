"""Sessions: the signed cookie for pages, none at all for the JSON API (it carries no cookie's authority)."""

from __future__ import annotations

from quart.sessions import SecureCookieSessionInterface

API = "/api/"


class PagesOnlySessions(SecureCookieSessionInterface):
    """Quart's cookie sessions, except on /api/: there a null session, neither read from the cookie nor saved (an
    API call is anonymous or its key's; csrf.protect and bearer.identify never look at a session there)."""

    async def open_session(self, app, request):
        if request.path.startswith(API):
            return self.null_session_class()
        return await super().open_session(app, request)
