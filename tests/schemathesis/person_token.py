"""Prints an access token issued to a person, the way an app gets one: the real
sign-in form, the consent page, the code exchanged with PKCE. Standard library only.

Usage: person_token.py BASE CLIENT_ID REDIRECT_URI SCOPE USERNAME PASSWORD
"""

import base64
import hashlib
import html.parser
import http.cookiejar
import json
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request


class Inputs(html.parser.HTMLParser):
    """The hidden inputs of the page's form posting to `action`, as (name, value)
    pairs (pages also carry a sign-out form)."""

    def __init__(self, action):
        super().__init__()
        self.action, self.inside, self.pairs = action, False, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif self.inside and tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.pairs.append((a["name"], a.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    base, client_id, redirect, scope, username, password = sys.argv[1:7]
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect()
    )

    def call(path, form=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with opener.open(base + path, data) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as e:  # redirects land here too
            return e.code, e.headers, e.read().decode()

    def hidden(page, action):
        parser = Inputs(action)
        parser.feed(page)
        return parser.pairs

    _, _, page = call("/login")
    form = hidden(page, "/login") + [("username", username), ("password", password), ("next", "/")]
    status, _, _ = call("/login", form)
    assert status == 303, f"sign-in answered {status}"

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect,
            "scope": scope,
            "state": secrets.token_urlsafe(16),
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
    )
    status, _, page = call("/oauth/authorize?" + query)
    assert status == 200, f"the consent page answered {status}"
    status, headers, body = call("/oauth/authorize", hidden(page, "/oauth/authorize") + [("decision", "approve")])
    assert status in (302, 303), f"approving answered {status}: {body[:500]}"
    code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)["code"][0]

    status, _, body = call(
        "/oauth/token",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert status == 200, f"the token endpoint answered {status}: {body}"
    print(json.loads(body)["access_token"])


if __name__ == "__main__":
    main()
