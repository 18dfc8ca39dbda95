// An MCP client on the official TypeScript SDK (@modelcontextprotocol/sdk), run by
// tests/mcp.rs. It is given only the MCP server's URL: the SDK finds Latchkey
// through the server's 401 and RFC 9728 metadata, identifies itself with a Client
// ID Metadata Document (CLIENT_METADATA_URL set) or registers dynamically (unset),
// and sends the person to Latchkey; the person (tests/common/person.mjs) signs in
// and approves; the SDK exchanges the code and calls the server's tools.
//
// Environment: MCP_SDK (the SDK's package directory), MCP_URL, ISSUER, USERNAME,
// PASSWORD, REDIRECT_URI, CLIENT_METADATA_URL (optional), CONSENT_MUST_SHOW
// (text the consent page must contain). Prints one JSON line; exits non-zero on
// failure.
import { pathToFileURL } from "node:url";
import { Person, check } from "../common/person.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const sdk = (path) => import(pathToFileURL(`${env("MCP_SDK")}/dist/esm/${path}`).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const { UnauthorizedError } = await sdk("client/auth.js");

const mcpUrl = new URL(env("MCP_URL"));
const redirectUri = env("REDIRECT_URI");
const documentUrl = process.env.CLIENT_METADATA_URL || undefined;

// The SDK's storage for one session: everything it hands over, kept as given.
class Session {
  constructor() {
    this.clientMetadataUrl = documentUrl;
    this.saved = {};
    this.authorizationUrl = undefined;
  }
  get redirectUrl() {
    return redirectUri;
  }
  get clientMetadata() {
    return {
      client_name: "MCP SDK test client",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "native",
    };
  }
  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { this.saved.client = info; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; }
  saveCodeVerifier(verifier) { this.saved.verifier = verifier; }
  codeVerifier() { return this.saved.verifier; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
}

const session = new Session();
const connect = async () => {
  const client = new Client({ name: "latchkey-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: session });
  await client.connect(transport);
  return { client, transport };
};

// 1. Unauthorized: the SDK discovers Latchkey and wants the person sent there.
let transport;
try {
  await connect();
  throw new Error("connected without authorization");
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
}
const authorizationUrl = session.authorizationUrl;
check(authorizationUrl, "the SDK asked to send the person to the authorization server");
check(authorizationUrl.href.startsWith(`${env("ISSUER")}/oauth/authorize?`), `authorization at Latchkey: ${authorizationUrl}`);
const asked = authorizationUrl.searchParams;
check(asked.get("resource") === mcpUrl.href, `resource is the MCP server: ${asked.get("resource")}`);

// 2. The person signs in and approves; the SDK finishes with the code.
const person = new Person(env("ISSUER"), env("USERNAME"), env("PASSWORD"));
const done = await person.browse(authorizationUrl.href, redirectUri);
check(done.seen.join(",") === "login,consent", `sign-in then consent, saw ${done.seen}`);
const mustShow = process.env.CONSENT_MUST_SHOW;
if (mustShow) check(done.pages.consent.includes(mustShow), `the consent page shows ${mustShow}`);
const back = new URL(done.url).searchParams;
check(back.get("state") === asked.get("state"), "state comes back");
check(back.get("iss") === env("ISSUER"), "iss comes back (RFC 9207)");
transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: session });
await transport.finishAuth(back.get("code"));

// 3. Authorized: the tools work.
const { client } = await connect();
const tools = (await client.listTools()).tools.map((t) => t.name).sort();
const text = (result) => result.content.map((c) => c.text).join("");
const whoami = text(await client.callTool({ name: "whoami", arguments: {} }));
const sum = text(await client.callTool({ name: "add", arguments: { a: 2, b: 40 } }));
await client.close();

console.log(JSON.stringify({
  client_id: asked.get("client_id"),
  scope: asked.get("scope"),
  token_scope: session.saved.tokens.scope,
  has_refresh_token: Boolean(session.saved.tokens.refresh_token),
  tools,
  whoami,
  sum,
}));
