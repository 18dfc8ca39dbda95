// A confidential client that holds a key pair and no secret, built on openid-client
// v6 with its PrivateKeyJwt client authentication, run by tests/client_assertions.rs.
// It gets a token with client credentials, then (when REDIRECT_URI is set) signs a
// person in with authorization code + PKCE, refreshes, introspects and revokes:
// every call authenticated by a fresh assertion the library signs itself.
//
// Environment: OPENID_CLIENT (openid-client's build/index.js), ISSUER, CLIENT_ID,
// KEY_PKCS8 (base64 DER), KEY_ALG (ES256 or RS256), KEY_ID, and for the code flow
// REDIRECT_URI, USERNAME, PASSWORD. Prints one JSON line; exits non-zero on failure.
import { webcrypto } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Person, check } from "../common/person.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const client = await import(pathToFileURL(env("OPENID_CLIENT")).href);
const issuer = env("ISSUER");
const alg = env("KEY_ALG");
const algorithm =
  alg === "ES256" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const key = await webcrypto.subtle.importKey("pkcs8", Buffer.from(env("KEY_PKCS8"), "base64"), algorithm, false, [
  "sign",
]);

const config = await client.discovery(
  new URL(issuer),
  env("CLIENT_ID"),
  undefined,
  client.PrivateKeyJwt({ key, kid: env("KEY_ID") }),
  { execute: [client.allowInsecureRequests] },
);
const meta = config.serverMetadata();
check(meta.token_endpoint_auth_methods_supported.includes("private_key_jwt"), "private_key_jwt advertised");
check(meta.token_endpoint_auth_signing_alg_values_supported.includes(alg), `${alg} advertised`);

const out = {};
const machine = await client.clientCredentialsGrant(config);
check(machine.access_token, "an access token by client credentials");
out.client_credentials = machine.access_token;

const active = async (token) => (await client.tokenIntrospection(config, token)).active;
check((await active(machine.access_token)) === true, "introspection: active");

if (process.env.REDIRECT_URI) {
  const redirectUri = env("REDIRECT_URI");
  const person = new Person(issuer, env("USERNAME"), env("PASSWORD"));
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "profile offline_access",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
  });
  const back = await person.browse(url.href, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, new URL(back.url), {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  check(tokens.refresh_token, "a refresh token");
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  check(refreshed.access_token && refreshed.refresh_token !== tokens.refresh_token, "refresh rotates");
  check((await active(refreshed.access_token)) === true, "the refreshed token is active");
  await client.tokenRevocation(config, refreshed.refresh_token);
  check((await active(refreshed.refresh_token)) === false, "revoked refresh token is inactive");
  out.code_flow = refreshed.access_token;
}
await client.tokenRevocation(config, machine.access_token);
check((await active(machine.access_token)) === false, "revoked access token is inactive");
console.log(JSON.stringify(out));
