// Client assertions for the private_key_jwt rows of benches/load.sh, made before a
// run so that wrk only sends them (the cost measured is the server's, not this
// script's). Node's own crypto, no package.
//
//   node benches/assertions.mjs key DIR
//     writes DIR/key.pem (PKCS#8, P-256) and DIR/jwks.json (its public JWK, kid k1)
//   node benches/assertions.mjs sign DIR CLIENT_ID AUDIENCE COUNT
//     writes DIR/assertions: COUNT ES256 assertions, one per line, each with its
//     own jti, valid for 300 s from now
//   node benches/assertions.mjs proofs DIR URL COUNT [METHOD [ACCESS_TOKEN]]
//     writes DIR/proofs: COUNT ES256 DPoP proofs (RFC 9449) of METHOD (POST) URL by
//     the key in DIR/key.pem, each with its own jti, iat now (so use them within
//     60 s), and with ACCESS_TOKEN's hash as `ath` when given
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

const [mode, dir, clientId, audience, count] = process.argv.slice(2);
const b64url = (b) => Buffer.from(b).toString("base64url");

if (mode === "key") {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(`${dir}/key.pem`, privateKey.export({ format: "pem", type: "pkcs8" }));
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "k1", alg: "ES256", use: "sig" };
  writeFileSync(`${dir}/jwks.json`, JSON.stringify({ keys: [jwk] }));
} else if (mode === "sign") {
  const key = createPrivateKey(readFileSync(`${dir}/key.pem`));
  const header = b64url(JSON.stringify({ alg: "ES256", kid: "k1", typ: "JWT" }));
  const now = Math.floor(Date.now() / 1000);
  const lines = [];
  for (let i = 0; i < Number(count); i++) {
    const claims = b64url(JSON.stringify({
      iss: clientId, sub: clientId, aud: audience, iat: now, exp: now + 300,
      jti: randomBytes(16).toString("base64url"),
    }));
    const input = `${header}.${claims}`;
    const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
    lines.push(`${input}.${b64url(sig)}`);
  }
  writeFileSync(`${dir}/assertions`, lines.join("\n") + "\n");
} else if (mode === "proofs") {
  const [url, n] = [clientId, audience];
  const [method = "POST", accessToken] = process.argv.slice(6);
  const ath = accessToken && createHash("sha256").update(accessToken).digest("base64url");
  const key = createPrivateKey(readFileSync(`${dir}/key.pem`));
  const { d: _private, ...jwk } = key.export({ format: "jwk" });
  const header = b64url(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk }));
  const now = Math.floor(Date.now() / 1000);
  const lines = [];
  for (let i = 0; i < Number(n); i++) {
    const claims = b64url(JSON.stringify({
      htm: method, htu: url, iat: now, jti: randomBytes(16).toString("base64url"), ...(ath ? { ath } : {}),
    }));
    const input = `${header}.${claims}`;
    const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
    lines.push(`${input}.${b64url(sig)}`);
  }
  writeFileSync(`${dir}/proofs`, lines.join("\n") + "\n");
} else {
  throw new Error("usage: assertions.mjs key DIR | sign DIR CLIENT_ID AUDIENCE COUNT | proofs DIR URL COUNT");
}
