// node-oidc-provider configured like Latchkey's benchmark server: client
// credentials, RS256 (or PEER_ALG) JWT access tokens for one resource, in-memory
// storage. Installed by benches/peer/install.sh; started by benches/load.sh.
// Usage: node provider.mjs PORT CLIENT_ID CLIENT_SECRET [RS256|ES256|EdDSA] [JWKS_FILE]
// With JWKS_FILE a second client, `bench-pkjwt`, authenticates with private_key_jwt
// (ES256 assertions verified with the public keys in that file).
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, alg = 'RS256', keyClientJwks] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const resource = 'https://api.example';

function signingKey(alg) {
  const pair = alg === 'RS256'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('ed25519');
  return { ...pair.privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `bench-${alg}` };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    // The only key is of `alg`; the provider checks client metadata against it.
    id_token_signed_response_alg: alg,
    scope: 'profile',
  }, ...(keyClientJwks ? [{
    client_id: 'bench-pkjwt',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: JSON.parse(readFileSync(keyClientJwks, 'utf8')),
    id_token_signed_response_alg: alg,
    scope: 'profile',
  }] : [])],
  jwks: { keys: [signingKey(alg)] },
  scopes: ['profile'],
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // DPoP proofs bind the token when sent (RFC 9449), no server nonces.
    dPoP: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'profile',
        audience: resource,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg } },
      }),
    },
  },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.error(`node-oidc-provider ${alg} listening on ${issuer}`);
});
