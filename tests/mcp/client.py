"""An MCP client on the official Python SDK (PyPI `mcp` 2.x), run by tests/mcp.rs.

Given only the MCP server's URL, the SDK's OAuthClientProvider finds Latchkey
through the server's 401 and RFC 9728 metadata, identifies itself with a Client
ID Metadata Document (CLIENT_METADATA_URL set) or registers dynamically (unset),
and sends the person to Latchkey; the person (below: an HTTP client with a cookie
jar that submits the pages' own forms) signs in and approves. The SDK checks
`state` and `iss` (RFC 9207), redeems the code and calls the tools. Then a tool
needing a wider scope answers 403 insufficient_scope: the SDK asks for the union,
the person consents, and the call goes through. Last, once the access token has
expired, the SDK refreshes it before calling.

Environment: MCP_URL, ISSUER, USERNAME, PASSWORD, REDIRECT_URI,
CLIENT_METADATA_URL (optional), CONSENT_MUST_SHOW (text the first consent page
must contain), EXPIRY_LEEWAY (seconds the MCP server accepts a token after its
`exp`). Prints one JSON line; exits non-zero on failure.
"""

import asyncio
import base64
import html
import json
import os
import re
import time
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set")
    return value


def check(cond: object, what: str) -> None:
    if not cond:
        raise AssertionError(f"check failed: {what}")


MCP_URL = env("MCP_URL")
ISSUER = env("ISSUER")
REDIRECT_URI = env("REDIRECT_URI")
DOCUMENT_URL = os.environ.get("CLIENT_METADATA_URL") or None


class Person:
    """A person at a browser: follows redirects, signs in, approves consent."""

    def __init__(self) -> None:
        self.http = httpx2.AsyncClient(follow_redirects=False)

    @staticmethod
    def form(page: str, action: str) -> dict[str, str]:
        start = page.index(f'action="{action}"')
        form = page[start : page.index("</form>", start)]
        return {
            html.unescape(name): html.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', form)
        }

    async def browse(self, url: str) -> tuple[str, list[str], dict[str, str]]:
        """From `url` until sent to the redirect URI; the final URL, the pages seen, the last of each."""
        seen: list[str] = []
        pages: dict[str, str] = {}
        for _ in range(12):
            if url.startswith(REDIRECT_URI):
                return url, seen, pages
            resp = await self.http.get(url)
            if 300 <= resp.status_code < 400:
                url = urljoin(url, resp.headers["location"])
                continue
            check(resp.status_code == 200, f"page {url} answered {resp.status_code}: {resp.text[:300]}")
            page = resp.text
            if 'action="/login"' in page:
                action, kind = "/login", "login"
                fields = self.form(page, action)
                fields.update(username=env("USERNAME"), password=env("PASSWORD"))
            elif 'action="/oauth/authorize"' in page:
                action, kind = "/oauth/authorize", "consent"
                fields = self.form(page, action)
                fields["decision"] = "approve"
            else:
                raise AssertionError(f"unexpected page at {url}: {page[:300]}")
            seen.append(kind)
            pages[kind] = page
            posted = await self.http.post(urljoin(ISSUER, action), data=fields)
            check(posted.status_code == 303, f"{action} answered {posted.status_code}")
            url = urljoin(ISSUER, posted.headers["location"])
        raise AssertionError("too many redirects")


class Storage:
    """The SDK's storage for one session."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None
        self.token_saves = 0

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.token_saves += 1

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def consent_scopes(page: str) -> dict[str, list[str]]:
    """The scopes named in <code> on a consent page: asked for, and already allowed."""
    asked, _, already = page.partition("Already allowed:")
    codes = lambda part: re.findall(r"<code>([^<]*)</code>", part)  # noqa: E731
    return {"asked": codes(asked), "already": codes(already.split("</p>")[0])}


async def main() -> None:
    person = Person()
    storage = Storage()
    journeys: list[dict] = []
    pending: list[str] = []

    async def redirect_handler(url: str) -> None:
        pending.append(url)

    async def callback_handler() -> AuthorizationCodeResult:
        url = pending.pop()
        check(url.startswith(f"{ISSUER}/oauth/authorize?"), f"authorization at Latchkey: {url}")
        final, seen, pages = await person.browse(url)
        asked = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        back = {k: v[0] for k, v in parse_qs(urlparse(final).query).items()}
        check("code" in back, f"a code: {final}")
        journeys.append({"asked": asked, "seen": seen, "pages": pages})
        return AuthorizationCodeResult(code=back["code"], state=back.get("state"), iss=back.get("iss"))

    oauth = OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=OAuthClientMetadata(
            client_name="MCP Python SDK test client",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=DOCUMENT_URL,
    )
    text = lambda result: "".join(c.text for c in result.content)  # noqa: E731
    async with httpx2.AsyncClient(auth=oauth, timeout=60) as http:
        async with streamable_http_client(MCP_URL, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                # 1–2. Unauthorized → discovery, sign-in and consent, code → tokens.
                await session.initialize()
                check(len(journeys) == 1, f"one authorization so far, {len(journeys)}")
                first = journeys[0]
                check(first["seen"] == ["login", "consent"], f"sign-in then consent, saw {first['seen']}")
                must_show = os.environ.get("CONSENT_MUST_SHOW")
                if must_show:
                    check(must_show in first["pages"]["consent"], f"the consent page shows {must_show}")
                first_tokens = storage.tokens
                # 3. The tools.
                tools = sorted(t.name for t in (await session.list_tools()).tools)
                whoami = text(await session.call_tool("whoami", {}))
                total = text(await session.call_tool("add", {"a": 2, "b": 40}))
                # 4. Step-up: 403 insufficient_scope, the union asked, the person consents.
                saved = text(await session.call_tool("save_note", {"text": "milk"}))
                check(len(journeys) == 2, f"the step-up sent the person again, {len(journeys)}")
                step_up = journeys[1]
                step_up_tokens = storage.tokens
                # 5. Expiry: wait until the MCP server would refuse the token, then call.
                payload = step_up_tokens.access_token.split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                wait = claims["exp"] + int(env("EXPIRY_LEEWAY")) + 1 - time.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                after_expiry = text(await session.call_tool("whoami", {}))
                refreshed = storage.tokens

    print(
        json.dumps(
            {
                "client_id": first["asked"]["client_id"],
                "scope": first["asked"].get("scope"),
                "prompt": first["asked"].get("prompt"),
                "token_scope": first_tokens.scope,
                "has_refresh_token": bool(first_tokens.refresh_token),
                "tools": tools,
                "whoami": whoami,
                "sum": total,
                "step_up_scope": step_up["asked"].get("scope"),
                "step_up_seen": step_up["seen"],
                "step_up_consent": consent_scopes(step_up["pages"]["consent"]),
                "step_up_token_scope": step_up_tokens.scope,
                "saved": saved,
                "waited_seconds": max(0, round(wait)),
                "after_expiry": after_expiry,
                "refreshed": refreshed.access_token != step_up_tokens.access_token
                and refreshed.refresh_token != step_up_tokens.refresh_token,
                "authorization_requests": len(journeys),
            }
        )
    )


asyncio.run(main())
