// A relying party built on openid-client (panva's OpenID Certified library), run
// against a Latchkey server by tests/oidc.rs. The person's browser is played by
// fetch with a cookie jar: it follows redirects, signs in and approves consent by
// submitting the pages' own forms. Nothing is configured beyond allowing plain
// http to the loopback test server.
//
// Environment: OPENID_CLIENT (path of openid-client's build/index.js), ISSUER,
// CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_URI, USERNAME, PASSWORD,
// EXPECTED_ALG. Prints one JSON line with what it saw; exits non-zero on failure.
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const client = await import(pathToFileURL(env("OPENID_CLIENT")).href);
const issuer = env("ISSUER");
const redirectUri = env("REDIRECT_URI");
const postLogoutUri = env("POST_LOGOUT_URI");

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// --- the browser ---------------------------------------------------------------
const jar = new Map();
function remember(resp) {
  for (const line of resp.headers.getSetCookie()) {
    const [pair, ...attrs] = line.split(";");
    const [name, value] = pair.split("=");
    const expired = attrs.some((a) => a.trim().toLowerCase() === "max-age=0");
    if (expired) jar.delete(name.trim());
    else jar.set(name.trim(), value.trim());
  }
}
async function request(url, init = {}) {
  const headers = new Headers(init.headers || {});
  if (jar.size) headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
  const resp = await fetch(url, { ...init, headers, redirect: "manual" });
  remember(resp);
  return resp;
}
const unescape = (s) =>
  s.replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCharCode(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCharCode(Number(d)))
    .replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
// The fields of the first form posting to `action` on the page.
function formFields(html, action) {
  const start = html.indexOf(`action="${action}"`);
  check(start >= 0, `a form posting to ${action}`);
  const form = html.slice(start, html.indexOf("</form>", start));
  const fields = new URLSearchParams();
  for (const m of form.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields.append(unescape(m[1]), unescape(m[2]));
  }
  return fields;
}
// Follows the browser from `url` until it is sent to `stopAt`; signs in and
// approves on the way. Returns the final URL and the pages it saw.
async function browse(url, stopAt) {
  const seen = [];
  for (let hops = 0; hops < 12; hops++) {
    if (url.startsWith(stopAt)) return { url, seen };
    const resp = await request(url);
    if (resp.status >= 300 && resp.status < 400) {
      url = new URL(resp.headers.get("location"), url).href;
      continue;
    }
    const html = await resp.text();
    check(resp.status === 200, `page ${url} answered ${resp.status}: ${html.slice(0, 300)}`);
    let action, fields;
    if (html.includes('action="/login"')) {
      seen.push("login");
      action = "/login";
      fields = formFields(html, action);
      fields.set("username", env("USERNAME"));
      fields.set("password", env("PASSWORD"));
    } else if (html.includes('action="/oauth/authorize"')) {
      seen.push("consent");
      action = "/oauth/authorize";
      fields = formFields(html, action);
      fields.set("decision", "approve");
    } else {
      throw new Error(`unexpected page at ${url}: ${html.slice(0, 300)}`);
    }
    const posted = await request(new URL(action, issuer), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: fields.toString(),
    });
    check(posted.status === 303, `${action} answered ${posted.status}`);
    url = new URL(posted.headers.get("location"), issuer).href;
  }
  throw new Error("too many redirects");
}

// at_hash computed here, independently of the server (Core §3.1.3.6).
function atHash(alg, accessToken) {
  const hash = alg === "EdDSA" ? "sha512" : "sha256";
  const digest = createHash(hash).update(accessToken, "ascii").digest();
  return digest.subarray(0, digest.length / 2).toString("base64url");
}
const header = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[0], "base64url"));

// --- the relying party -----------------------------------------------------------
const config = await client.discovery(new URL(issuer), env("CLIENT_ID"), env("CLIENT_SECRET"), undefined, {
  execute: [client.allowInsecureRequests],
});
const meta = config.serverMetadata();
check(meta.end_session_endpoint, "end_session_endpoint in discovery");
check(meta.id_token_signing_alg_values_supported.includes(env("EXPECTED_ALG")), "the key's alg is published");

const verifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: "openid profile email offline_access",
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256",
  nonce,
  state,
});
const first = await browse(authorizationUrl.href, redirectUri);
check(first.seen.join(",") === "login,consent", `sign-in then consent, saw ${first.seen}`);

const tokens = await client.authorizationCodeGrant(config, new URL(first.url), {
  pkceCodeVerifier: verifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
});
const claims = tokens.claims();
const idHeader = header(tokens.id_token);
check(idHeader.typ === "JWT", `ID token typ JWT, got ${idHeader.typ}`);
check(idHeader.alg === env("EXPECTED_ALG"), `ID token alg ${idHeader.alg}`);
check(claims.nonce === nonce, "nonce echoed");
check(claims.aud === env("CLIENT_ID"), "aud is the client id");
check(claims.at_hash === atHash(idHeader.alg, tokens.access_token), "at_hash matches the access token");
check(typeof claims.auth_time === "number", "auth_time present");
check(claims.preferred_username === env("USERNAME"), "preferred_username by scope profile");
check(tokens.refresh_token, "a refresh token with offline_access");

const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
check(userinfo.email === `${env("USERNAME")}@example.com`, "email from UserInfo");
check(userinfo.email_verified === true, "email_verified from UserInfo");

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
const again = refreshed.claims();
check(refreshed.id_token && refreshed.id_token !== tokens.id_token, "a new ID token on refresh");
check(again.sub === claims.sub && again.auth_time === claims.auth_time, "same sub and auth_time");
check(again.at_hash === atHash(idHeader.alg, refreshed.access_token), "refreshed at_hash");
check(refreshed.refresh_token !== tokens.refresh_token, "refresh token rotated");

// A second authorization in the same session: no sign-in, no consent.
const silent = await browse(
  client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid profile email offline_access",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
  }).href,
  redirectUri,
);
check(silent.seen.length === 0, `no page the second time, saw ${silent.seen}`);

// RP-initiated logout: the hint proves the session, so no confirmation page.
const endUrl = client.buildEndSessionUrl(config, {
  id_token_hint: refreshed.id_token,
  post_logout_redirect_uri: postLogoutUri,
  state: "bye",
});
const ended = await request(endUrl.href);
check(ended.status === 303, `end session answered ${ended.status}`);
check(ended.headers.get("location") === `${postLogoutUri}?state=bye`, `back to ${ended.headers.get("location")}`);
const account = await request(new URL("/account", issuer).href);
check(account.status === 303 && account.headers.get("location").startsWith("/login"), "signed out");

console.log(JSON.stringify({ sub: claims.sub, alg: idHeader.alg, auth_time: claims.auth_time, ok: true }));
