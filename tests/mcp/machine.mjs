// A machine-to-machine MCP client on the official TypeScript SDK: its
// PrivateKeyJwtProvider (client credentials with private_key_jwt) holds a key pair
// and no secret. Given only the MCP server's URL, the SDK finds Latchkey through
// the server's 401 and RFC 9728 metadata, gets a token with an assertion it signs,
// and calls the tools. Run by tests/mcp.rs.
//
// Environment: MCP_SDK, MCP_URL, ISSUER, CLIENT_ID, KEY_PEM (PKCS#8), KEY_ALG.
// Prints one JSON line; exits non-zero on failure.
import { pathToFileURL } from "node:url";
import { check } from "../common/person.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const sdk = (path) => import(pathToFileURL(`${env("MCP_SDK")}/dist/esm/${path}`).href);
const { Client } = await sdk("client/index.js");
const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
const { PrivateKeyJwtProvider } = await sdk("client/auth-extensions.js");

const provider = new PrivateKeyJwtProvider({
  clientId: env("CLIENT_ID"),
  privateKey: env("KEY_PEM"),
  algorithm: env("KEY_ALG"),
  expectedIssuer: env("ISSUER"),
  scope: "mcp:tools",
});
const client = new Client({ name: "latchkey-machine", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(env("MCP_URL")), { authProvider: provider });
await client.connect(transport);
const tools = (await client.listTools()).tools.map((t) => t.name).sort();
const text = (result) => result.content.map((c) => c.text).join("");
const whoami = text(await client.callTool({ name: "whoami", arguments: {} }));
await client.close();
const tokens = provider.tokens();
check(tokens && tokens.access_token, "the provider holds a token");
console.log(JSON.stringify({ tools, whoami, token_scope: tokens.scope, access_token: tokens.access_token }));
