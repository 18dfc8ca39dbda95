"""A service that holds an EC key pair and no secret, built on authlib's
PrivateKeyJWT client authentication, run by tests/client_assertions.rs.

authlib signs for the token endpoint URL and for 3600 seconds unless told
otherwise; Latchkey wants its issuer as the audience and (by default) at most 600
seconds. So: the stock configuration is shown to be refused with a description that
says why, then the configuration README recommends — audience set to the issuer,
a 300-second lifetime — gets tokens, each with a fresh jti.

Environment: ISSUER, CLIENT_ID, KEY_PEM (PKCS#8), KEY_ID. Prints one JSON line.
"""

import json
import os

from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey

issuer = os.environ["ISSUER"]
token_endpoint = issuer + "/oauth/token"
key = ECKey.import_key(os.environ["KEY_PEM"])
headers = {"kid": os.environ["KEY_ID"]}


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """PrivateKeyJWT with a 300-second assertion (authlib's default is 3600)."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            header=dict(self.headers or {}),
            expires_in=300,
        )


def session(auth):
    s = OAuth2Client(
        os.environ["CLIENT_ID"],
        key,
        token_endpoint_auth_method=auth.name,
    )
    s.register_client_auth_method(auth)
    return s


out = {}
stock = session(PrivateKeyJWT(token_endpoint, headers=dict(headers), alg="ES256"))
try:
    stock.fetch_token(token_endpoint, grant_type="client_credentials")
    out["stock"] = "accepted"
except Exception as e:  # authlib raises OAuthError with the server's description
    out["stock"] = str(e)

recommended = session(ShortLivedPrivateKeyJWT(issuer, headers=dict(headers), alg="ES256"))
out["tokens"] = [
    recommended.fetch_token(token_endpoint, grant_type="client_credentials")["access_token"]
    for _ in range(2)
]
print(json.dumps(out))
