#!/usr/bin/env python3
"""Refresh-rotation throughput against a running Latchkey (stdlib only).

Signs in, approves a public client once, obtains one token family per worker through
the real code + PKCE flow, then has each worker rotate its own family's refresh token
as fast as the server answers for DURATION seconds. Prints rotations/s and latency
percentiles. Every rotation must succeed: a failure means a lost update.

usage: refresh_rotation.py BASE_URL CLIENT_ID USERNAME PASSWORD [WORKERS] [DURATION]
The client must be public, allow scope `profile`, and have redirect URI
http://127.0.0.1/cb registered. Start the server with `--rate-limit-token off`: one
address refreshing this fast is over the default token limit.
"""
import base64, hashlib, http.client, http.cookiejar, json, os, re, sys, threading, time
import urllib.parse, urllib.request

base, client_id, username, password = sys.argv[1:5]
workers = int(sys.argv[5]) if len(sys.argv) > 5 else 8
duration = float(sys.argv[6]) if len(sys.argv) > 6 else 10.0
redirect = "http://127.0.0.1:9/cb"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def request(method, path, data=None, headers=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        resp = opener.open(req)
    except urllib.error.HTTPError as e:
        resp = e
    return resp.status, resp.headers, resp.read().decode()


def hidden(html, name):
    return re.search(r'name="%s" value="([^"]*)"' % name, html).group(1)


_, _, page = request("GET", "/login")
status, _, _ = request("POST", "/login", {"username": username, "password": password,
                                          "csrf_token": hidden(page, "csrf_token"), "next": "/account"})
assert status == 303, "sign-in failed"


def new_family():
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect,
                                "scope": "profile", "code_challenge": challenge,
                                "code_challenge_method": "S256", "state": "bench"})
    status, headers, html = request("GET", "/oauth/authorize?" + q)
    if status == 200:  # first time: approve on the consent page
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
        form = {k: v.replace("&amp;", "&") for k, v in form.items()}
        form["decision"] = "approve"
        status, headers, _ = request("POST", "/oauth/authorize", form)
    location = headers["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    status, _, body = request("POST", "/oauth/token", {"grant_type": "authorization_code", "client_id": client_id,
                                                       "code": code, "redirect_uri": redirect,
                                                       "code_verifier": verifier})
    assert status == 200, body
    return json.loads(body)["refresh_token"]


tokens = [new_family() for _ in range(workers)]
host = urllib.parse.urlparse(base)
latencies, failures = [], []
lock = threading.Lock()
deadline = time.monotonic() + duration


def worker(token):
    conn = http.client.HTTPConnection(host.hostname, host.port)
    mine = []
    while time.monotonic() < deadline:
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "client_id": client_id, "refresh_token": token})
        t0 = time.perf_counter()
        conn.request("POST", "/oauth/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        data = resp.read()
        mine.append(time.perf_counter() - t0)
        if resp.status != 200:
            with lock:
                failures.append(data.decode())
            return
        token = json.loads(data)["refresh_token"]
    with lock:
        latencies.extend(mine)


started = time.monotonic()
threads = [threading.Thread(target=worker, args=(t,)) for t in tokens]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - started
latencies.sort()
pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
print(f"{len(latencies)} rotations in {elapsed:.1f}s with {workers} families: {len(latencies) / elapsed:.0f}/s, "
      f"p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, failures {len(failures)}")
if failures:
    print("first failure:", failures[0])
    sys.exit(1)
