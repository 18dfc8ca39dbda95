// A relying party built on openid-client (panva's OpenID Certified library), run
// against a Latchkey server by tests/oidc.rs. The person's browser is played by
// tests/common/person.mjs. Nothing is configured beyond allowing plain http to the
// loopback test server.
//
// Environment: OPENID_CLIENT (path of openid-client's build/index.js), ISSUER,
// CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_URI, USERNAME, PASSWORD,
// EXPECTED_ALG. Prints one JSON line with what it saw; exits non-zero on failure.
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Person, check } from "../common/person.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const client = await import(pathToFileURL(env("OPENID_CLIENT")).href);
const issuer = env("ISSUER");
const redirectUri = env("REDIRECT_URI");
const postLogoutUri = env("POST_LOGOUT_URI");

// --- the browser ---------------------------------------------------------------
const person = new Person(issuer, env("USERNAME"), env("PASSWORD"));

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
const first = await person.browse(authorizationUrl.href, redirectUri);
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
const silent = await person.browse(
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
const ended = await person.request(endUrl.href);
check(ended.status === 303, `end session answered ${ended.status}`);
check(ended.headers.get("location") === `${postLogoutUri}?state=bye`, `back to ${ended.headers.get("location")}`);
const account = await person.request(new URL("/account", issuer).href);
check(account.status === 303 && account.headers.get("location").startsWith("/login"), "signed out");

console.log(JSON.stringify({ sub: claims.sub, alg: idHeader.alg, auth_time: claims.auth_time, ok: true }));
