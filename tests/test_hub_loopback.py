"""The coalition hub end to end on loopback, as three ``hashmatch serve``
processes: the hub (on SQLite and on PostgreSQL) and members A and B (SQLite
files), driven only over HTTP and through the ``hashmatch`` CLI as operators
would (issue 16).

1. A and B apply, a hub admin (a key made with the CLI) checks every
   criterion and approves; each gets its hub key and registers a signing key.
2. A shares a bank with a generated picture (PDQ, MD5, SHA-256) and one with
   a URL (``hashmatch hub share``), signed.
3. B pulls both collections through ``taxii`` exchanges that verify the
   signatures against the hub's member directory; B's submission of the
   picture and a lookup of the URL spelt otherwise match.
4. B's reviewer marks the match a false positive; B's opinions reach the hub
   as signed STIX Opinions and A reads the false positive on its indicators.
5. A revokes the MD5 indicator (``hashmatch hub revoke``); B's next pull
   drops it from B's bank.
6. An admin suspends B: B's next pull is refused, and says why.
7. A's indicator altered after signing is refused, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hashmatch.hub.criteria import CRITERION_KEYS
from hashmatch.hub.keys import generate_signing_key, parse_private_key
from hashmatch.hub.object_intake import member_identity
from hashmatch.hub.patterns import parse_pattern
from hashmatch.hub.signing import sign
from tests.conftest import encoded, noise_image
from tests.hub_world import form_fields
from tests.loopback_world import Instance, eventually, serving

TAXII = "application/taxii+json;version=2.1"
#: The URL A shares, and the same URL as B's platform meets it.
SHARED_URL = "https://gallery.example.org/albums/7?id=3"
URL_AS_MET = "HTTPS://Gallery.EXAMPLE.org:443/albums/7?id=3"
#: The variable that holds a member's hub key for its taxii exchanges (--credentials-env).
HUB_KEY_ENV = "HUB_KEY"


@dataclass
class Member:
    """A member instance, with what the hub gave it and its signing key."""

    server: Instance
    id: int
    hub_key: str
    key_file: Path

    @property
    def identity(self) -> str:
        return member_identity(self.id)

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.hub_key}"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``hashmatch ARGS`` on this member, its hub key in HUB_KEY_ENV."""
        return self.server.run(*args, env={HUB_KEY_ENV: self.hub_key})

    def ok(self, *args: str) -> str:
        return self.server.ok(*args, env={HUB_KEY_ENV: self.hub_key})

    def sign(self, obj: dict[str, Any]) -> dict[str, Any]:
        return sign(obj, parse_private_key(self.key_file.read_text()))


@dataclass
class Hub:
    server: Instance
    admin_key: str

    def admin(self, method: str, path: str, status: int = 200, **options: Any) -> Any:
        """An admin's request to the hub, which must answer ``status``: its JSON."""
        answer = self.server.http.request(
            method, path, headers={"Authorization": f"Bearer {self.admin_key}"}, **options
        )
        assert answer.status_code == status, answer.text
        return answer.json()

    def member(self, member: Member, method: str, path: str, **options: Any) -> Any:
        """A member's request to /v1/hub (the raw answer)."""
        return self.server.http.request(method, path, headers=member.bearer, **options)


@dataclass
class Coalition:
    hub: Hub
    a: Member
    b: Member
    collections: dict[str, str]  # title -> id

    def taxii(self, member: Member, method: str, path: str, **options: Any) -> Any:
        """A TAXII request to the hub with ``member``'s hub key (the raw answer)."""
        headers = {**member.bearer, "Accept": TAXII}
        if "json" in options:
            headers["Content-Type"] = TAXII
        http = self.hub.server.http
        return http.request(method, f"/taxii2/hub{path}", headers=headers, **options)

    def objects(self, title: str) -> str:
        return f"/collections/{self.collections[title]}/objects/"

    def signals(self, member: Member) -> list[dict[str, Any]]:
        """What ``member`` shared, with its feedback, as the hub tells it."""
        answer = self.hub.member(member, "GET", "/v1/hub/me/signals")
        assert answer.status_code == 200, answer.text
        return answer.json()["signals"]  # type: ignore[no-any-return]


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[dict[str, Instance]]:
    """The hub on the fixture's engine, A and B on SQLite files of their own.
    B sends its opinions when told (``exchange send-opinions``), so that the
    round asserted is the one that sent them."""
    loopback = {"url_allow_private": "true"}
    with serving(
        tmp_path,
        {"hub": database_url, "a": "", "b": ""},
        hub={"hub_enabled": "true"},
        a=loopback,
        b={**loopback, "deliver_in_serve": "false"},
    ) as running:
        yield running


# -- 1. membership -----------------------------------------------------------------------


def join(hub: Hub, server: Instance, number: int) -> Member:
    """Apply, be checked and approved, register a signing key: the member."""
    http = hub.server.http
    applied = http.post("/v1/hub/applications", json=form_fields(number))
    assert applied.status_code == 201, applied.text
    assert applied.json()["state"] == "submitted"
    application, token = applied.json()["id"], applied.json()["status_token"]
    hub.admin("POST", f"/v1/hub/admin/applications/{application}/approve", status=409)
    for criterion in CRITERION_KEYS:
        hub.admin(
            "POST",
            f"/v1/hub/admin/applications/{application}/checks",
            json={"criterion": criterion, "note": f"read the {criterion} evidence"},
        )
    approved = hub.admin("POST", f"/v1/hub/admin/applications/{application}/approve")
    seen = http.get(f"/v1/hub/applications/{application}", params={"token": token})
    assert seen.json()["state"] == "approved"
    private_pem, public_text = generate_signing_key()
    key_file = server.log.parent / "member.pem"
    key_file.write_text(private_pem)
    key_file.chmod(0o600)
    member = Member(server, approved["member"]["id"], approved["api_key"], key_file)
    registered = hub.member(member, "POST", "/v1/hub/me/keys", json={"public_key": public_text})
    assert registered.status_code == 201, registered.text
    me = hub.member(member, "GET", "/v1/hub/me").json()
    assert (me["id"], me["state"]) == (member.id, "active")
    assert [key["kid"] for key in me["keys"]] == [registered.json()["kid"]]
    return member


def add_exchange(coalition: Coalition, member: Member, name: str, bank: str, title: str) -> None:
    """A taxii exchange on one of the hub's collections, pulled when the test
    says (``--disabled``: serve's scheduler leaves it alone)."""
    member.ok("bank", "create", bank)
    member.ok(
        "exchange", "add", name, "--type", "taxii", "--bank", bank, "--disabled",
        "--option", f"url={coalition.hub.server.base}/taxii2/hub/",
        "--option", f"collection={coalition.collections[title]}",
        "--option", f"directory_url={coalition.hub.server.base}/v1/hub/members",
        "--option", "verify_signatures=required",
        "--option", f"signing_key_file={member.key_file}",
        "--option", f"identity={member.identity}",
        "--credentials-env", HUB_KEY_ENV,
    )  # fmt: skip


def form_coalition(servers: dict[str, Instance]) -> Coalition:
    admin_key = servers["hub"].ok("keys", "create", "--name", "hub-admin", "--scope", "admin")
    hub = Hub(servers["hub"], admin_key.strip())
    a, b = join(hub, servers["a"], 1), join(hub, servers["b"], 2)
    listed = hub.admin("GET", "/v1/hub/collections")["collections"]
    collections = {c["title"]: c["id"] for c in listed}
    assert set(collections) == {"hashes", "signals"}  # made when the hub first served
    for member in (a, b):
        for collection in collections.values():
            hub.admin(
                "PUT",
                f"/v1/hub/collections/{collection}/grants/{member.id}",
                json={"read": True, "write": True},
            )
    directory = hub.member(b, "GET", "/v1/hub/members").json()["members"]
    assert {m["id"] for m in directory} == {a.id, b.id}
    return Coalition(hub, a, b, collections)


# -- 2. A shares ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shared:
    """One of A's indicators on the hub: its id and the value it carries."""

    id: str
    value: str


def share(coalition: Coalition, picture: Path) -> dict[str, Shared]:
    """A's banks shared; A's indicators on the hub by signal type."""
    a = coalition.a
    add_exchange(coalition, a, "hub", "from-hub", "hashes")
    a.ok("bank", "create", "shared-hashes")
    a.ok("bank", "add", "shared-hashes", str(picture), "--label", "A1")
    a.ok("bank", "create", "shared-signals")
    a.ok("bank", "add", "shared-signals", "--hash", f"url:{SHARED_URL}", "--label", "A2")
    hashes = json.loads(a.ok("hub", "share", "shared-hashes", "--json"))
    assert (hashes["total"], hashes["succeeded"], hashes["failed"]) == (3, 3, 0), hashes
    signals = coalition.collections["signals"]
    urls = json.loads(a.ok("hub", "share", "shared-signals", "--json", "--collection", signals))
    assert (urls["total"], urls["succeeded"], urls["failed"]) == (1, 1, 0), urls
    mine = coalition.signals(a)
    assert {signal["publisher_id"] for signal in mine} == {a.id}
    shared = {}
    for signal in mine:
        parsed = parse_pattern(signal["pattern"])
        shared[parsed.signal_type] = Shared(signal["id"], parsed.value)
    assert set(shared) == {"pdq", "md5", "sha256", "url"}
    assert shared["md5"].value == hashlib.md5(picture.read_bytes()).hexdigest()
    # Served exactly as A signed it.
    served = coalition.taxii(a, "GET", f"{coalition.objects('hashes')}{shared['pdq'].id}/")
    assert served.status_code == 200, served.text
    [indicator] = served.json()["objects"]
    assert indicator["created_by_ref"] == a.identity
    assert indicator["labels"] == ["classification:A1"]
    assert indicator["x_hashmatch_signature"]
    return shared


# -- 3. B pulls and matches ---------------------------------------------------------------


def pull(member: Member, *names: str) -> list[dict[str, Any]]:
    """One ``exchange fetch`` per exchange: each run's result (it must succeed)."""
    return [json.loads(member.ok("exchange", "fetch", name)) for name in names]


def lookup(b: Member, key: str, signal_type: str, signal: str) -> list[dict[str, Any]]:
    answer = b.server.http.get(
        "/v1/lookup",
        params={"signal_type": signal_type, "signal": signal},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["matches"]  # type: ignore[no-any-return]


def pull_and_match(
    coalition: Coalition, picture: Path, shared: dict[str, Shared]
) -> tuple[str, int]:
    """B's key for its platform, and the submission that matched."""
    b = coalition.b
    add_exchange(coalition, b, "hub-hashes", "hub-hashes", "hashes")
    add_exchange(coalition, b, "hub-signals", "hub-signals", "signals")
    hashes, signals = pull(b, "hub-hashes", "hub-signals")
    assert (hashes["counts"]["added"], hashes["counts"]["malformed"]) == (3, 0), hashes
    assert (signals["counts"]["added"], signals["counts"]["malformed"]) == (1, 0), signals
    key = b.ok("keys", "create", "--name", "platform", "--scope", "submit,match,review").strip()

    def submitted() -> dict[str, Any] | None:
        answer = b.server.http.post(
            "/v1/submissions",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": ("upload.png", picture.read_bytes(), "image/png")},
            data={"content_ref": "upload-1"},
        )
        assert answer.status_code in (200, 201), answer.text
        body: dict[str, Any] = answer.json()
        return body if body["matches"] else None

    # B's server follows its database's change log: the pull is matchable soon after.
    submission = eventually(submitted, "B's submission of the picture matches")
    found = {(m["bank"], m["signal_type"], m["distance"]) for m in submission["matches"]}
    hash_types = ("pdq", "md5", "sha256")
    assert found == {("hub-hashes", kind, 0) for kind in hash_types}
    assert {m["external_id"] for m in submission["matches"]} == {
        shared[kind].id for kind in hash_types
    }
    [url] = lookup(b, key, "url", URL_AS_MET)
    assert (url["bank"], url["external_id"]) == ("hub-signals", shared["url"].id)
    return key, int(submission["submission_id"])


# -- 4. B's false positive reaches A --------------------------------------------------------


def false_positive(
    coalition: Coalition, key: str, submission_id: int, shared: dict[str, Shared]
) -> None:
    b, auth = coalition.b, {"Authorization": f"Bearer {key}"}
    http = b.server.http
    queued = http.post("/v1/review/items", headers=auth, json={"submission_id": submission_id})
    assert queued.status_code == 201, queued.text
    item = queued.json()["id"]
    claimed = http.post(f"/v1/review/items/{item}/claim", headers=auth)
    assert claimed.status_code == 200, claimed.text
    decided = http.post(
        f"/v1/review/items/{item}/decision",
        headers=auth,
        json={"decision": "false_positive", "note": "a generated test picture"},
    )
    assert decided.status_code == 200, decided.text
    rounds = json.loads(b.ok("exchange", "send-opinions"))
    assert rounds["hub-hashes"]["sent"] == 3, rounds
    sent = b.server.json_lines("exchange", "opinions", "hub-hashes")
    assert {(row["opinion"], row["status"]) for row in sent} == {("negative", "sent")}
    feedback = {signal["id"]: signal["feedback"] for signal in coalition.signals(coalition.a)}
    for kind in ("pdq", "md5", "sha256"):
        assert feedback[shared[kind].id] == {
            "confirmed": 0,
            "false_positive": 1,
            "disputed": 0,
            "reported": 0,
        }
    assert feedback[shared["url"].id]["false_positive"] == 0


UNKNOWN_INDICATOR = "indicator--00000000-0000-4000-8000-000000000000"


# -- 5. A revokes -----------------------------------------------------------------------------


def revoke_md5(coalition: Coalition, key: str, shared: dict[str, Shared]) -> None:
    """A revokes its MD5 indicator with ``hashmatch hub revoke`` (by the
    signal, in another spelling); B's next pull drops it."""
    a, b = coalition.a, coalition.b
    md5 = shared["md5"].value
    revoked = json.loads(a.ok("hub", "revoke", "--signal", f"md5:{md5.upper()}", "--json"))
    assert revoked == {
        "indicators": [{"id": shared["md5"].id, "outcome": "revoked", "message": None}]
    }
    path = f"{coalition.objects('hashes')}{shared['md5'].id}/"
    [served] = coalition.taxii(a, "GET", path).json()["objects"]
    assert served["revoked"] is True
    again = a.cli("hub", "revoke", shared["md5"].id, UNKNOWN_INDICATOR)
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"{shared['md5'].id} already revoked" in again.stdout
    assert "not found: the collection holds no object by this id" in again.stdout
    [hashes] = pull(b, "hub-hashes")
    assert (hashes["counts"]["removed"], hashes["counts"]["added"]) == (1, 0), hashes
    eventually(lambda: not lookup(b, key, "md5", md5), "B's bank no longer matches the MD5")
    exported = b.server.json_lines("bank", "export", "hub-hashes", "--format", "jsonl")
    assert md5 not in json.dumps(exported)
    [pdq] = lookup(b, key, "pdq", shared["pdq"].value)
    assert pdq["external_id"] == shared["pdq"].id  # the rest stays


# -- 6. B suspended ---------------------------------------------------------------------------


def suspend_b(coalition: Coalition) -> None:
    b, hub = coalition.b, coalition.hub
    reason = "signals shared outside the coalition"
    hub.admin("POST", f"/v1/hub/admin/members/{b.id}/suspend", json={"reason": reason})
    refused = b.cli("exchange", "fetch", "hub-hashes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    result = json.loads(refused.stdout)
    assert not result["succeeded"]
    assert "HTTP 403" in result["error"], result
    assert "credentials" not in result["error"]  # the hub's reason, not a guess
    assert f"is suspended: Suspended by the hub: {reason}" in result["error"]
    assert b.hub_key not in refused.stdout + refused.stderr
    status = json.loads(b.ok("hub", "status", "--json"))
    [connection] = [c for c in status["connections"] if c["exchange"] == "hub-hashes"]
    assert connection["last_pull"]["succeeded"] is False
    assert reason in connection["last_pull"]["error"]
    me = hub.member(b, "GET", "/v1/hub/me").json()
    assert (me["state"], me["state_reason"]) == ("suspended", f"Suspended by the hub: {reason}")


# -- 7. a bad signature -------------------------------------------------------------------------


def tampered(coalition: Coalition, shared: dict[str, Shared]) -> None:
    """A's PDQ indicator with its label changed after signing: refused in the
    status resource (202, docs/hub-taxii.md), audited, and nothing stored."""
    a = coalition.a
    path = f"{coalition.objects('hashes')}{shared['pdq'].id}/"
    [indicator] = coalition.taxii(a, "GET", path).json()["objects"]
    altered = {**indicator, "labels": ["classification:B2"]}
    posted = coalition.taxii(a, "POST", coalition.objects("hashes"), json={"objects": [altered]})
    assert posted.status_code == 202, posted.text
    status = posted.json()
    assert (status["success_count"], status["failure_count"]) == (0, 1), status
    [failure] = status["failures"]
    assert failure["id"] == indicator["id"]
    assert "changed after it was signed" in failure["message"]
    versions = coalition.taxii(a, "GET", f"{path}versions/").json()["versions"]
    assert versions == [indicator["modified"]]
    [kept] = coalition.taxii(a, "GET", path).json()["objects"]
    assert kept == indicator
    [audited] = coalition.hub.server.json_lines("audit", "list", "--action", "hub.object_rejected")
    assert indicator["id"] in json.dumps(audited)


# -- the whole story ----------------------------------------------------------------------------


@pytest.mark.slow
def test_two_members_share_match_feed_back_and_revoke_through_the_hub(
    servers: dict[str, Instance], tmp_path: Path
) -> None:
    picture = tmp_path / "picture.png"
    picture.write_bytes(encoded(noise_image(320, 240, seed=16), "PNG"))
    coalition = form_coalition(servers)
    shared = share(coalition, picture)
    key, submission_id = pull_and_match(coalition, picture, shared)
    false_positive(coalition, key, submission_id, shared)
    revoke_md5(coalition, key, shared)
    suspend_b(coalition)
    tampered(coalition, shared)
