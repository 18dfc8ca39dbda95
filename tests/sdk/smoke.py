"""Calls a running Latchkey through a Python SDK generated from openapi/latchkey.json.

Usage: smoke.py BASE_URL CLIENT_ID CLIENT_SECRET
"""
import sys

from latchkey_client import Client
from latchkey_client.api.discovery import get_authorization_server_metadata, get_jwks, list_scopes
from latchkey_client.api.o_auth import issue_token
from latchkey_client.models import OAuthErrorBody, TokenGrantType, TokenRequest, TokenSuccess

base, client_id, secret = sys.argv[1:4]
api = Client(base_url=base)

meta = get_authorization_server_metadata.sync(client=api)
assert meta.issuer == base, meta
assert "client_credentials" in meta.grant_types_supported, meta
assert meta.code_challenge_methods_supported == ["S256"], meta

jwks = get_jwks.sync(client=api)
assert jwks.keys and jwks.keys[0].kty == "RSA", jwks

scopes = list_scopes.sync(client=api)
assert any(s.name == "profile" for s in scopes.scopes), scopes

ok = issue_token.sync(
    client=api,
    body=TokenRequest(
        grant_type=TokenGrantType.CLIENT_CREDENTIALS,
        client_id=client_id,
        client_secret=secret,
        scope="profile",
    ),
)
assert isinstance(ok, TokenSuccess), ok
assert ok.token_type == "Bearer" and ok.scope == "profile" and ok.access_token.count(".") == 2, ok

bad = issue_token.sync(
    client=api,
    body=TokenRequest(grant_type=TokenGrantType.CLIENT_CREDENTIALS, client_id=client_id, client_secret="wrong"),
)
assert isinstance(bad, OAuthErrorBody) and bad.error == "invalid_client", bad
print("sdk smoke: generated Python client issued a token and read the metadata")
