"""A member's calls to its hub for the annual report, knowledge sharing and
the coalition's identifier key.

    hub = HubClient.connect("https://hub.example.org", api_key, UrlPolicy.from_settings(settings))
    me = hub.me()
    hub.identifier_key()                # {"key_id": ..., "key": ...}
    hub.send_report(signed_report(report, member_id=me["id"], private_key=key, publish=False))
    hub.templates()

The calls go through the exchanges' :class:`~hashmatch.exchange.http.PageClient`
(a stall timeout, the URL settings' allowed hosts and addresses, the API key
redacted from every message).  Every failure (no answer, a refusal) becomes
one HubError quoting the hub's own message, so the CLI prints it and exits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

from hashmatch.errors import ExchangeError, HubError
from hashmatch.exchange.http import HttpStatusError, PageClient
from hashmatch.media.download import UrlPolicy

#: Seconds a whole answer may take.
TIMEOUT = 30.0


class Sender(Protocol):
    """What the client sends through: :meth:`PageClient.send` (tests pass an in-process one)."""

    def send(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str] | None = None
    ) -> bytes: ...


class HubClient:
    def __init__(self, base_url: str, api_key: str, sender: Sender) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self.sender = sender

    @classmethod
    def connect(cls, url: str, api_key: str, policy: UrlPolicy) -> HubClient:
        if not url.startswith(("https://", "http://")):
            raise HubError(f"the hub's URL must start with https:// (not {url[:80]!r})")
        return cls(url, api_key, PageClient(policy, page_timeout=TIMEOUT, secrets=(api_key,)))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            answer = self.sender.send(method, f"{self.base_url}{path}", data, headers)
        except HttpStatusError as error:
            try:
                message = json.loads(error.body)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = error.body.decode("utf-8", "replace")[:200]
            raise HubError(f"the hub refused ({error.status}): {message}") from None
        except ExchangeError as error:
            raise HubError(f"the hub did not answer: {error}") from None
        try:
            return json.loads(answer)
        except ValueError:
            raise HubError("the hub's answer is not JSON") from None

    def me(self) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", "/v1/hub/me")
        return found

    def identifier_key(self) -> dict[str, str]:
        """The coalition's current identifier key: ``{"key_id", "key"}``."""
        found: dict[str, str] = self._call("GET", "/v1/hub/identifier-key")
        return found

    def send_report(self, envelope: dict[str, Any]) -> dict[str, Any]:
        sent: dict[str, Any] = self._call("POST", "/v1/hub/reports", envelope)
        return sent

    def templates(self, kind: str | None = None) -> list[dict[str, Any]]:
        query = f"?{urlencode({'kind': kind})}" if kind else ""
        found: list[dict[str, Any]] = self._call("GET", f"/v1/hub/templates{query}")["templates"]
        return found

    def template(self, template_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"/v1/hub/templates/{template_id}")
        return found

    def publish(self, **template: Any) -> dict[str, Any]:
        made: dict[str, Any] = self._call("POST", "/v1/hub/templates", template)
        return made
