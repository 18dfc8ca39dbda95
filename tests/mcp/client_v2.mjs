// An MCP client on the TypeScript SDK's v2 client package (@modelcontextprotocol/client),
// run by tests/mcp.rs. Given only the MCP server's URL, the SDK finds Latchkey
// through the server's 401 and RFC 9728 metadata, identifies itself with a Client
// ID Metadata Document (CLIENT_METADATA_URL set) or registers dynamically (unset),
// and sends the person to Latchkey (tests/common/person.mjs signs in and approves).
// Then, as v2 clients do:
// - the callback's `iss` is checked before the code is redeemed (RFC 9207), and the
//   credentials are bound to the issuer they came from;
// - a tool needing a wider scope answers 403 insufficient_scope; the SDK asks for
//   the union of what it has and what the challenge names, the person consents to
//   what is new, and the call goes through;
// - once the access token has expired, the server's 401 makes the SDK refresh it.
//
// Environment: MCP_CLIENT (the package directory), MCP_URL, ISSUER, USERNAME,
// PASSWORD, REDIRECT_URI, CLIENT_METADATA_URL (optional), CONSENT_MUST_SHOW (text
// the first consent page must contain), EXPIRY_LEEWAY (seconds the MCP server
// accepts a token after its `exp`). Prints one JSON line; exits non-zero on failure.
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Person, check } from "../common/person.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const { Client, StreamableHTTPClientTransport, UnauthorizedError } = await import(
  pathToFileURL(`${env("MCP_CLIENT")}/dist/index.mjs`).href
);

const mcpUrl = new URL(env("MCP_URL"));
const issuer = env("ISSUER");
const redirectUri = env("REDIRECT_URI");
const documentUrl = process.env.CLIENT_METADATA_URL || undefined;

// The SDK's storage for one session, kept by issuer as v2 hands it over.
class Session {
  constructor() {
    this.clientMetadataUrl = documentUrl;
    this.byIssuer = new Map();
    this.latest = undefined;
    this.discovery = undefined;
    this.verifier = undefined;
    this.redirects = [];
    this.tokenSaves = 0;
  }
  get redirectUrl() {
    return redirectUri;
  }
  // No application_type: v2 derives it from the redirect URIs.
  get clientMetadata() {
    return {
      client_name: "MCP SDK v2 test client",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  slot(ctx) {
    const key = ctx?.issuer ?? "";
    if (!this.byIssuer.has(key)) this.byIssuer.set(key, {});
    return this.byIssuer.get(key);
  }
  clientInformation(ctx) { return this.slot(ctx).client; }
  saveClientInformation(info, ctx) { this.slot(ctx).client = info; }
  tokens(ctx) { return ctx ? this.slot(ctx).tokens : this.latest; }
  saveTokens(tokens, ctx) {
    this.slot(ctx).tokens = tokens;
    this.latest = tokens;
    this.tokenSaves += 1;
  }
  saveCodeVerifier(verifier) { this.verifier = verifier; }
  codeVerifier() { return this.verifier; }
  discoveryState() { return this.discovery; }
  saveDiscoveryState(state) { this.discovery = state; }
  redirectToAuthorization(url) { this.redirects.push(url); }
}

const session = new Session();
const person = new Person(issuer, env("USERNAME"), env("PASSWORD"));

// The person follows the last authorization URL; returns the callback's parameters
// and what they saw.
const authorize = async (url) => {
  check(url.href.startsWith(`${issuer}/oauth/authorize?`), `authorization at Latchkey: ${url}`);
  const done = await person.browse(url.href, redirectUri);
  const back = new URL(done.url).searchParams;
  check(back.get("state") === url.searchParams.get("state"), "state comes back");
  check(back.get("iss") === issuer, "iss comes back (RFC 9207)");
  check(back.get("code"), `a code: ${done.url}`);
  return { back, done };
};

// The scopes named in <code> on the consent page: asked for, and already allowed.
const consentScopes = (html) => {
  const codes = (part) => [...part.matchAll(/<code>([^<]*)<\/code>/g)].map((m) => m[1]);
  const [asked, already = ""] = html.split("Already allowed:");
  return { asked: codes(asked), already: codes(already.split("</p>")[0]) };
};

// 1. Unauthorized: the SDK discovers Latchkey and wants the person sent there.
const client = new Client({ name: "latchkey-test-v2", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: session });
try {
  await client.connect(transport);
  throw new Error("connected without authorization");
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
}
check(session.redirects.length === 1, "the SDK asked to send the person to Latchkey");
const first = session.redirects[0];
const asked = first.searchParams;
check(asked.get("resource") === mcpUrl.href, `resource is the MCP server: ${asked.get("resource")}`);

// 2. The person signs in and approves; the SDK checks iss, then redeems the code.
const signIn = await authorize(first);
check(signIn.done.seen.join(",") === "login,consent", `sign-in then consent, saw ${signIn.done.seen}`);
const mustShow = process.env.CONSENT_MUST_SHOW;
if (mustShow) check(signIn.done.pages.consent.includes(mustShow), `the consent page shows ${mustShow}`);
await transport.finishAuth(signIn.back);
const firstTokens = session.latest;
check(firstTokens.issuer === issuer, `tokens bound to the issuer: ${firstTokens.issuer}`);

// 3. Authorized: the tools work.
const fresh = new Client({ name: "latchkey-test-v2", version: "1.0.0" });
const live = new StreamableHTTPClientTransport(mcpUrl, { authProvider: session });
await fresh.connect(live);
const tools = (await fresh.listTools()).tools.map((t) => t.name).sort();
const text = (result) => result.content.map((c) => c.text).join("");
const whoami = text(await fresh.callTool({ name: "whoami", arguments: {} }));
const sum = text(await fresh.callTool({ name: "add", arguments: { a: 2, b: 40 } }));

// 4. Step-up: save_note needs a scope the token lacks. The SDK re-authorizes for
// the union and hands the person over; the person consents; the call is retried.
const save = () => fresh.callTool({ name: "save_note", arguments: { text: "milk" } });
try {
  await save();
  throw new Error("save_note worked without its scope");
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
}
check(session.redirects.length === 2, "the step-up sends the person to Latchkey again");
const stepUpUrl = session.redirects[1];
const stepUp = await authorize(stepUpUrl);
check(stepUp.done.seen.join(",") === "consent", `still signed in: only consent, saw ${stepUp.done.seen}`);
await live.finishAuth(stepUp.back);
const saved = text(await save());
const stepUpTokens = session.latest;

// 5. Expiry: wait until the MCP server refuses the access token, then call; the
// SDK gets the 401, refreshes, and the call goes through.
const claims = JSON.parse(Buffer.from(stepUpTokens.access_token.split(".")[1], "base64url"));
const leeway = Number(env("EXPIRY_LEEWAY"));
const wait = claims.exp + leeway + 1 - Date.now() / 1000;
if (wait > 0) await sleep(wait * 1000);
const afterExpiry = text(await fresh.callTool({ name: "whoami", arguments: {} }));
const refreshed = session.latest;
await fresh.close();

console.log(JSON.stringify({
  client_id: asked.get("client_id"),
  scope: asked.get("scope"),
  prompt: asked.get("prompt"),
  token_scope: firstTokens.scope,
  has_refresh_token: Boolean(firstTokens.refresh_token),
  tools,
  whoami,
  sum,
  step_up_scope: stepUpUrl.searchParams.get("scope"),
  step_up_consent: consentScopes(stepUp.done.pages.consent),
  step_up_token_scope: stepUpTokens.scope,
  saved,
  waited_seconds: Math.max(0, Math.round(wait)),
  after_expiry: afterExpiry,
  refreshed: refreshed.access_token !== stepUpTokens.access_token &&
    refreshed.refresh_token !== stepUpTokens.refresh_token,
  authorization_requests: session.redirects.length,
}));
