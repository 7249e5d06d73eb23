"""Members' keys and signatures: Ed25519 detached JWS over RFC 8785 JSON.

Every way a signed object can be wrong gives its own error; a signature
survives the stix2 library and any JSON re-spelling, and any change to the
object's content breaks it (a property-based test)."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import rfc8785
import stix2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashmatch.errors import (
    AlteredObjectError,
    BadSignatureError,
    HubKeyError,
    MalformedSignatureError,
    RevokedSigningKeyError,
    SignatureError,
    UnknownSigningKeyError,
    UnsupportedAlgorithmError,
    WrongPublisherError,
)
from hashmatch.hub.keys import (
    generate_signing_key,
    key_id,
    parse_private_key,
    parse_public_key,
    public_key_jwk,
    public_key_text,
)
from hashmatch.hub.patterns import PatternSignal
from hashmatch.hub.signing import SIGNATURE_PROPERTY, TrustedKey, key_ring, sign, verify
from hashmatch.hub.stix import build_indicator, build_opinion, identity_id, new_version, revoke

DOCS = Path(__file__).parent.parent / "docs"
CREATED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MEMBER_A = identity_id("member-a")
MEMBER_B = identity_id("member-b")
KEY_A = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEY_B = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
RING = key_ring(
    [TrustedKey(KEY_A.public_key(), MEMBER_A), TrustedKey(KEY_B.public_key(), MEMBER_B)]
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_indicator(key: Ed25519PrivateKey = KEY_A, publisher: str = MEMBER_A) -> dict[str, Any]:
    obj = build_indicator(
        PatternSignal("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        publisher=publisher,
        created=CREATED,
        classification="A1",
        categories=["csam"],
    )
    return sign(obj, key)


def with_header(obj: dict[str, Any], **header: Any) -> dict[str, Any]:
    """``obj`` with its JWS header changed (the signature left as it was)."""
    protected, _, signature = obj[SIGNATURE_PROPERTY].split(".")
    old = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    new = {**old, **header}
    encoded = b64url(json.dumps({k: v for k, v in new.items() if v is not None}).encode())
    return {**obj, SIGNATURE_PROPERTY: f"{encoded}..{signature}"}


# Keys


def test_the_three_key_forms_read_as_one_key_with_its_rfc_7638_thumbprint() -> None:
    # RFC 8037 appendix A.3: this key's thumbprint.
    rfc_jwk = '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
    assert key_id(parse_public_key(rfc_jwk)) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    public = KEY_A.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    forms = [pem, public_key_text(public), json.dumps(public_key_jwk(public)), f"  {pem}\n"]
    assert {key_id(parse_public_key(form)) for form in forms} == {key_id(public)}
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", public_key_text(public))


def test_generated_keys_sign_and_verify() -> None:
    private_pem, public = generate_signing_key()
    private = parse_private_key(private_pem)
    assert public_key_text(private.public_key()) == public
    ring = key_ring([TrustedKey(parse_public_key(public), MEMBER_A)])
    assert verify(signed_indicator(private), ring).kid == key_id(parse_public_key(public))


RSA_PEM = (
    generate_private_key(public_exponent=65537, key_size=1024)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("abc", "decodes to 2 bytes"),
        ("A" * 44, "not canonical base64url|decodes to 33"),
        ("x" * 5000, "longer than"),
        ("not a key!", "not PEM, a JWK or base64url"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a public key"),
        (RSA_PEM, "not Ed25519"),
        ("{", "not JSON"),
        ('{"kty": "RSA", "n": "x"}', "not an Ed25519 key"),
        ('{"kty": "OKP", "crv": "X25519", "x": "x"}', "not an Ed25519 key"),
        ('{"kty": "OKP", "crv": "Ed25519"}', 'no "x"'),
        ('{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "d": "AAAA"}', "private key"),
        ('{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}', "3 bytes"),
    ],
)
def test_what_is_not_an_ed25519_public_key_is_refused(text: str, why: str) -> None:
    with pytest.raises(HubKeyError, match=why):
        parse_public_key(text)


def test_private_keys_that_cannot_sign_are_refused() -> None:
    with pytest.raises(HubKeyError, match="not an unencrypted PEM"):
        parse_private_key("nothing")
    rsa = generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(HubKeyError, match="not Ed25519"):
        parse_private_key(rsa.decode())


# Signing and verifying


def test_a_signed_object_verifies_and_says_who_signed_it() -> None:
    obj = signed_indicator()
    verified = verify(obj, RING)
    assert (verified.kid, verified.publisher) == (key_id(KEY_A.public_key()), MEMBER_A)
    assert verified.object == obj
    protected, payload, _signature = obj[SIGNATURE_PROPERTY].split(".")
    assert payload == ""
    header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
    assert (header["alg"], header["kid"]) == ("EdDSA", verified.kid)
    # Signing again replaces the signature rather than signing it.
    assert sign(obj, KEY_A) == obj


def test_the_signature_is_a_plain_detached_jws_any_library_can_check() -> None:
    """Rebuilt from RFC 7515 and RFC 8785 alone: BASE64URL(header) '.'
    BASE64URL(JCS(object without the signature)), signed with Ed25519."""
    obj = signed_indicator()
    protected, _, signature = obj[SIGNATURE_PROPERTY].split(".")
    payload = rfc8785.dumps({k: v for k, v in obj.items() if k != SIGNATURE_PROPERTY})
    signing_input = f"{protected}.{b64url(payload)}".encode()
    raw_signature = base64.urlsafe_b64decode(signature + "==")
    KEY_A.public_key().verify(raw_signature, signing_input)  # raises if not


def test_a_signature_survives_stix2_and_any_json_spelling() -> None:
    obj = signed_indicator()
    through_stix2 = json.loads(stix2.parse(obj, allow_custom=True).serialize(pretty=True))
    assert verify(through_stix2, RING).publisher == MEMBER_A
    respelled = json.loads(json.dumps(dict(reversed(obj.items())), indent=3, ensure_ascii=True))
    assert verify(respelled, RING).publisher == MEMBER_A


def test_each_kind_of_wrong_signature_has_its_own_error() -> None:
    obj = signed_indicator()
    protected, _, signature = obj[SIGNATURE_PROPERTY].split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    by_b = sign({**obj, SIGNATURE_PROPERTY: None}, KEY_B)[SIGNATURE_PROPERTY].split(".")[2]
    cases: list[tuple[dict[str, Any], type[SignatureError], str]] = [
        ({**obj, "labels": ["classification:B2"]}, AlteredObjectError, "changed after"),
        ({**obj, "name": obj["name"] + " "}, AlteredObjectError, "changed after"),
        ({**obj, SIGNATURE_PROPERTY: f"{protected}..{flipped}"}, BadSignatureError, "does not"),
        ({**obj, SIGNATURE_PROPERTY: f"{protected}..{by_b}"}, BadSignatureError, "does not"),
        (with_header(obj, kid="someone-else"), UnknownSigningKeyError, "someone-else"),
        (with_header(obj, alg="HS256"), UnsupportedAlgorithmError, "HS256"),
        (with_header(obj, alg="none"), UnsupportedAlgorithmError, "none"),
        (signed_indicator(KEY_B), WrongPublisherError, "signs for"),
    ]
    for bad, error, why in cases:
        with pytest.raises(error, match=why):
            verify(bad, RING)
    # Altered, with the digest in the header altered to match: the signature fails.
    altered = {**obj, "labels": ["classification:B2"]}
    payload = rfc8785.dumps({k: v for k, v in altered.items() if k != SIGNATURE_PROPERTY})
    digest = b64url(hashlib.sha256(payload).digest())
    with pytest.raises(BadSignatureError):
        verify(with_header(altered, x_hashmatch_sha256=digest), RING)


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        (None, "has no x_hashmatch_signature"),
        (42, "not a compact JWS"),
        ("a.b", "detached"),
        ("a.payload.b", "detached"),
        ("a..b..c", "detached"),
        ("!!!..AAAA", "does not decode"),
        (b64url(b"not json") + ".." + b64url(bytes(64)), "does not decode"),
        (b64url(b"[1]") + ".." + b64url(bytes(64)), "not a JSON object"),
        (b64url(b'{"alg": "EdDSA"}') + ".." + b64url(bytes(64)), "must have exactly"),
        ("x" * 2000, "not a compact JWS"),
    ],
)
def test_malformed_signatures_are_refused(signature: Any, why: str) -> None:
    obj = signed_indicator()
    if signature is None:
        del obj[SIGNATURE_PROPERTY]
    else:
        obj[SIGNATURE_PROPERTY] = signature
    with pytest.raises(MalformedSignatureError, match=why):
        verify(obj, RING)


def test_malformed_headers_and_signature_lengths_are_refused() -> None:
    obj = signed_indicator()
    with pytest.raises(MalformedSignatureError, match="must have exactly"):
        verify(with_header(obj, crit=["b64"]), RING)
    with pytest.raises(MalformedSignatureError, match="must have exactly"):
        verify(with_header(obj, kid=7), RING)
    protected = obj[SIGNATURE_PROPERTY].split(".")[0]
    with pytest.raises(MalformedSignatureError, match="63 bytes"):
        verify({**obj, SIGNATURE_PROPERTY: f"{protected}..{b64url(bytes(63))}"}, RING)


def test_key_rotation_old_objects_verify_until_the_old_key_is_revoked() -> None:
    old, new = KEY_A, Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
    signed_old = signed_indicator(old)
    opinion = sign(
        build_opinion(signed_old["id"], "confirmed", publisher=MEMBER_A, created=CREATED), new
    )
    both = key_ring(
        [TrustedKey(old.public_key(), MEMBER_A), TrustedKey(new.public_key(), MEMBER_A)]
    )
    assert verify(signed_old, both).kid == key_id(old.public_key())
    assert verify(opinion, both).kid == key_id(new.public_key())
    retired = key_ring(
        [
            TrustedKey(old.public_key(), MEMBER_A, revoked=True),
            TrustedKey(new.public_key(), MEMBER_A),
        ]
    )
    with pytest.raises(RevokedSigningKeyError, match="revoked"):
        verify(signed_old, retired)
    assert verify(opinion, retired).publisher == MEMBER_A
    # Re-published under the new key: the same indicator id, a new version.
    republished = sign(new_version(signed_old, modified=CREATED + timedelta(days=1)), new)
    assert republished["id"] == signed_old["id"]
    assert verify(republished, retired).kid == key_id(new.public_key())
    retraction = sign(revoke(republished, modified=CREATED + timedelta(days=2)), new)
    assert verify(retraction, retired).object["revoked"] is True


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (object keys and list positions)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)
SIGNED = signed_indicator()
PLACES = [path for path in _paths(SIGNED) if path[0] != SIGNATURE_PROPERTY]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(PLACES), value=JSON, how=st.sampled_from(["set", "delete", "add"]))
def test_any_change_to_a_signed_object_breaks_its_signature(
    place: tuple[Any, ...], value: Any, how: str
) -> None:
    obj = copy.deepcopy(SIGNED)
    *parents, last = place
    holder: Any = obj
    for step in parents:
        holder = holder[step]
    if how == "set":
        if holder[last] == value and type(holder[last]) is type(value):
            return  # not a change
        holder[last] = value
    elif how == "delete":
        del holder[last]
    elif isinstance(holder, dict):
        name = f"x_added_{len(holder)}"
        holder[name] = value
    else:
        holder.append(value)
    with pytest.raises(SignatureError):
        verify(obj, RING)


def test_the_docs_example_runs() -> None:
    page = (DOCS / "hub-stix.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/hub-stix.md", "exec"), {})


@pytest.mark.slow
def test_the_benchmark_prints_its_lines() -> None:
    script = Path(__file__).parent.parent / "benchmarks" / "hub_signing_speed.py"
    stdout = subprocess.run(
        [sys.executable, str(script), "--n", "200", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    phases = re.findall(
        r"^RESULT phase=(\w+) objects=200 per_s=\d+ per_cpu_s=\d+ ratio_vs_target=[\d.]+ "
        r"load=[\d.]+$",
        stdout,
        re.MULTILINE,
    )
    assert phases == ["sign", "verify", "verify_parse", "ed25519_only"]
