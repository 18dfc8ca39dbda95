"""Calls a running Latchkey through a Python SDK generated from openapi/latchkey.json.

Usage: smoke.py BASE_URL CLIENT_ID CLIENT_SECRET ADMIN_CLIENT_ID ADMIN_CLIENT_SECRET
"""
import sys

from latchkey_client import AuthenticatedClient, Client
from latchkey_client.api.admin import admin_list_clients
from latchkey_client.api.apps import list_apps
from latchkey_client.api.discovery import get_authorization_server_metadata, get_jwks, list_scopes
from latchkey_client.api.o_auth import get_client_registration, issue_token, register_client
from latchkey_client.models import (
    AdminClientList,
    ClientInformation,
    ClientRegistration,
    OAuthErrorBody,
    Problem,
    TokenGrantType,
    TokenRequest,
    TokenSuccess,
)

base, client_id, secret, admin_id, admin_secret = sys.argv[1:6]
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
# Dynamic registration (RFC 7591), then reading it back with the registration token.
info = register_client.sync(
    client=api,
    body=ClientRegistration(
        client_name="SDK desktop app",
        redirect_uris=["http://127.0.0.1/callback"],
        token_endpoint_auth_method="none",
    ),
)
assert isinstance(info, ClientInformation), info
assert info.token_endpoint_auth_method == "none", info
owner = AuthenticatedClient(base_url=base, token=info.registration_access_token)
read = get_client_registration.sync(client=owner, client_id=info.client_id)
assert isinstance(read, ClientInformation) and read.client_name == "SDK desktop app", read

# The management API wants a person's token: a client-credentials token is refused
# with a problem document the SDK parses.
machine = AuthenticatedClient(base_url=base, token=ok.access_token)
refused = list_apps.sync(client=machine)
assert isinstance(refused, Problem) and refused.type_ == "urn:latchkey:problem:not-a-user", refused
# The admin API with an operator client's token lists every client, paged.
admin_tok = issue_token.sync(
    client=api,
    body=TokenRequest(
        grant_type=TokenGrantType.CLIENT_CREDENTIALS,
        client_id=admin_id,
        client_secret=admin_secret,
        scope="latchkey:admin",
    ),
)
assert isinstance(admin_tok, TokenSuccess) and admin_tok.scope == "latchkey:admin", admin_tok
operator = AuthenticatedClient(base_url=base, token=admin_tok.access_token)
listed = admin_list_clients.sync(client=operator, limit=2)
assert isinstance(listed, AdminClientList), listed
assert len(listed.clients) == 2 and isinstance(listed.next_cursor, str), listed
rest = admin_list_clients.sync(client=operator, limit=2, cursor=listed.next_cursor)
assert isinstance(rest, AdminClientList), rest
every = {c.client_id for c in listed.clients + rest.clients}
assert {client_id, admin_id, info.client_id} <= every, every
# A non-admin token is refused with a problem document.
refused = admin_list_clients.sync(client=machine)
assert isinstance(refused, Problem) and refused.type_ == "urn:latchkey:problem:insufficient-scope", refused
print("sdk smoke: admin API listed every client with an operator token")
print("sdk smoke: generated Python client issued a token, registered a client and read the metadata")
