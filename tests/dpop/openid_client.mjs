// DPoP from openid-client v6 (getDPoPHandle, randomDPoPKeyPair), run by
// tests/dpop.rs: a public client pushes its request (PAR) and signs a person in
// with code + PKCE, reads UserInfo, refreshes and reads it again; a confidential client gets a token
// by client credentials. Every call carries a proof the library makes itself, and
// retries on use_dpop_nonce by itself when the server requires nonces. An
// independent resource server built on oauth4webapi's validateJwtAccessToken
// accepts the bound token with its proof and refuses it without.
//
// Environment: OPENID_CLIENT (openid-client's build/index.js), ISSUER,
// PUBLIC_CLIENT_ID, REDIRECT_URI, USERNAME, PASSWORD, MACHINE_ID, MACHINE_SECRET.
// Prints one JSON line; exits non-zero on failure.
import { webcrypto } from "node:crypto";
import http from "node:http";
import { pathToFileURL } from "node:url";
import { Person, check } from "../common/person.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const client = await import(pathToFileURL(env("OPENID_CLIENT")).href);
const issuer = env("ISSUER");
const insecure = { execute: [client.allowInsecureRequests] };

// RFC 7638 thumbprint of a P-256 public key, computed here, not by the server.
async function thumbprint(publicKey) {
  const jwk = await webcrypto.subtle.exportKey("jwk", publicKey);
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  const digest = await webcrypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return Buffer.from(digest).toString("base64url");
}
const summary = async (tokens, keyPair) => ({
  access_token: tokens.access_token,
  token_type: tokens.token_type,
  jkt: await thumbprint(keyPair.publicKey),
});

const config = await client.discovery(new URL(issuer), env("PUBLIC_CLIENT_ID"), undefined, client.None(), insecure);
check(config.serverMetadata().dpop_signing_alg_values_supported.includes("ES256"), "ES256 proofs advertised");
const keyPair = await client.randomDPoPKeyPair();
const DPoP = client.getDPoPHandle(config, keyPair);
const redirectUri = env("REDIRECT_URI");
const person = new Person(issuer, env("USERNAME"), env("PASSWORD"));
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
// Pushed (RFC 9126), with a proof: the code is bound to the key (RFC 9449 §10.1).
const url = await client.buildAuthorizationUrlWithPAR(
  config,
  {
    redirect_uri: redirectUri,
    scope: "openid profile offline_access",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
  },
  { DPoP },
);
check(url.searchParams.get("request_uri")?.startsWith("urn:ietf:params:oauth:request_uri:"), "a pushed request");
const back = await person.browse(url.href, redirectUri);
const tokens = await client.authorizationCodeGrant(
  config,
  new URL(back.url),
  { pkceCodeVerifier: verifier, expectedState: state },
  undefined,
  { DPoP },
);
const sub = tokens.claims().sub;
const me = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP });
check(me.sub === sub, "UserInfo with DPoP");
let downgraded = false;
try {
  await client.fetchUserInfo(config, tokens.access_token, sub);
} catch {
  downgraded = true;
}
check(downgraded, "UserInfo refuses the bound token as a bearer token");
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
check(refreshed.refresh_token !== tokens.refresh_token, "refresh rotates");
check((await client.fetchUserInfo(config, refreshed.access_token, sub, { DPoP })).sub === sub, "UserInfo after refresh");

// oauth4webapi, the library under openid-client, as a resource server.
const oauth = await import(
  pathToFileURL(env("OPENID_CLIENT").replace(/openid-client\/build\/index\.js$/, "oauth4webapi/build/index.js")).href
);
const as = config.serverMetadata();
const rs = http.createServer(async (req, res) => {
  const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers: req.headers });
  try {
    const claims = await oauth.validateJwtAccessToken(as, request, issuer, { [oauth.allowInsecureRequests]: true });
    res.writeHead(200).end(JSON.stringify({ sub: claims.sub }));
  } catch (e) {
    res.writeHead(401).end(String(e.message));
  }
});
await new Promise((resolve) => rs.listen(0, "127.0.0.1", resolve));
const rsUrl = new URL(`http://127.0.0.1:${rs.address().port}/notes`);
const served = await client.fetchProtectedResource(config, refreshed.access_token, rsUrl, "GET", undefined, undefined, {
  DPoP,
});
check(served.status === 200, `oauth4webapi accepts the DPoP-bound token with its proof (${served.status})`);
check(JSON.parse(await served.text()).sub === sub, "the resource server sees the person");
for (const scheme of ["Bearer", "DPoP"]) {
  const bare = await fetch(rsUrl, { headers: { authorization: `${scheme} ${refreshed.access_token}` } });
  check(bare.status === 401, `oauth4webapi refuses the bound token as ${scheme} without a proof`);
}
rs.close();

const machineConfig = await client.discovery(
  new URL(issuer),
  env("MACHINE_ID"),
  undefined,
  client.ClientSecretBasic(env("MACHINE_SECRET")),
  insecure,
);
const machineKey = await client.randomDPoPKeyPair();
const machine = await client.clientCredentialsGrant(machineConfig, undefined, {
  DPoP: client.getDPoPHandle(machineConfig, machineKey),
});
console.log(
  JSON.stringify({
    code: await summary(tokens, keyPair),
    refreshed: await summary(refreshed, keyPair),
    machine: await summary(machine, machineKey),
  }),
);
