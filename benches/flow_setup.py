#!/usr/bin/env python3
"""Prepares the code-flow and refresh scenarios of benches/load.sh (stdlib only).

Signs in as USERNAME, approves the public client once (so later authorizations are
answered with a redirect at once), obtains FAMILIES token families through the real
code + PKCE flow, and writes into OUTDIR:
  cookie          the session cookie, as a Cookie header value
  refresh_tokens  one refresh token per line, one per family
  pkce            a code verifier and its S256 challenge, on two lines

usage: flow_setup.py BASE_URL CLIENT_ID USERNAME PASSWORD FAMILIES OUTDIR
The client must be public, allow scope `profile` (or LK_SCOPE, when set), and have
the loopback redirect URI http://127.0.0.1/cb registered (any port matches).
"""
import base64, hashlib, html as html_lib, http.cookiejar, json, os, re, sys
import urllib.parse, urllib.request

base, client_id, username, password, families, outdir = sys.argv[1:7]
redirect = "http://127.0.0.1:9/cb"
scope = os.environ.get("LK_SCOPE", "profile")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def request(method, path, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(base + path, data=body, method=method)
    try:
        resp = opener.open(req)
    except urllib.error.HTTPError as e:
        resp = e
    return resp.status, resp.headers, resp.read().decode()


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_, _, page = request("GET", "/login")
csrf = re.search(r'name="csrf_token" value="([^"]*)"', page).group(1)
status, _, _ = request("POST", "/login", {"username": username, "password": password,
                                          "csrf_token": csrf, "next": "/account"})
assert status == 303, "sign-in failed"


def new_family():
    verifier = b64(os.urandom(32))
    q = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect,
                                "scope": scope, "code_challenge": b64(hashlib.sha256(verifier.encode()).digest()),
                                "code_challenge_method": "S256", "state": "bench"})
    status, headers, html = request("GET", "/oauth/authorize?" + q)
    if status == 200:  # the first time: approve on the consent page
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
        form = {html_lib.unescape(k): html_lib.unescape(v) for k, v in form.items()}
        form["decision"] = "approve"
        status, headers, _ = request("POST", "/oauth/authorize", form)
    answer = urllib.parse.parse_qs(urllib.parse.urlparse(headers["Location"]).query)
    assert "code" in answer, headers["Location"]
    code = answer["code"][0]
    status, _, body = request("POST", "/oauth/token", {"grant_type": "authorization_code", "client_id": client_id,
                                                       "code": code, "redirect_uri": redirect,
                                                       "code_verifier": verifier})
    assert status == 200, body
    return json.loads(body)["refresh_token"]


tokens = [new_family() for _ in range(int(families))]
with open(os.path.join(outdir, "refresh_tokens"), "w") as f:
    f.write("\n".join(tokens) + "\n")
with open(os.path.join(outdir, "cookie"), "w") as f:
    f.write("; ".join(f"{c.name}={c.value}" for c in jar if c.name == "lk_session") + "\n")
verifier = b64(os.urandom(32))
with open(os.path.join(outdir, "pkce"), "w") as f:
    f.write(verifier + "\n" + b64(hashlib.sha256(verifier.encode()).digest()) + "\n")
