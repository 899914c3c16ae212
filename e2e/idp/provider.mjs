// A real third-party OpenID provider (panva's oidc-provider) on loopback, for
// OrgScope's external-issuer e2e tests. Started by e2e/idp_harness_test.go as
//
//   node provider.mjs
//
// and configured only through the environment:
//
//   PORT               port on 127.0.0.1 (0 or unset: a free one). The issuer is
//                      http://127.0.0.1:<port>.
//   RESOURCE           the MCP resource URI tokens are minted for (required),
//                      e.g. http://127.0.0.1:43123/mcp. A second resource,
//                      https://other.example/api, is always known too.
//   TOKEN_FORMAT       jwt (default): access tokens for a resource are JWTs
//                      (typ at+jwt, aud = the resource);
//                      opaque: opaque access tokens, with introspection and
//                      revocation enabled.
//   KEYS_FILE          a JSON Web Key Set of private signing keys (RS256). The
//                      first one signs; the public parts of all are published.
//                      Unset: one fresh RSA key.
//   SHORT_TTL_SECONDS  access-token lifetime for the client short-m2m (default 2).
//   EXIT_ON_STDIN_EOF  1: also exit when stdin closes (the Go harness sets it so
//                      that the provider dies with a killed test binary).
//
// It prints one line "READY <issuer>" on stdout once listening, counts GET
// requests to the jwks_uri (GET /__test/stats -> {"jwks_fetches": N}), and
// exits cleanly on SIGTERM or SIGINT. Tokens and grants live in memory only.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const RESOURCE = process.env.RESOURCE;
if (!RESOURCE) {
  console.error('provider.mjs: RESOURCE is required');
  process.exit(2);
}
const OTHER_RESOURCE = 'https://other.example/api';
const TOKEN_FORMAT = process.env.TOKEN_FORMAT || 'jwt';
if (!['jwt', 'opaque'].includes(TOKEN_FORMAT)) {
  console.error('provider.mjs: TOKEN_FORMAT must be jwt or opaque');
  process.exit(2);
}
const OPAQUE = TOKEN_FORMAT === 'opaque';
const SHORT_TTL = Number.parseInt(process.env.SHORT_TTL_SECONDS || '2', 10);
if (!(SHORT_TTL > 0)) {
  console.error('provider.mjs: SHORT_TTL_SECONDS must be a positive integer');
  process.exit(2);
}
const SCOPES = 'read:users write:users delete:users read:orgs write:orgs read:flags write:flags read:audit';

// Signing keys: private JWKs; oidc-provider publishes only their public parts.
const keys = process.env.KEYS_FILE
  ? JSON.parse(fs.readFileSync(process.env.KEYS_FILE, 'utf8')).keys
  : [{
    ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    kid: 'generated', alg: 'RS256', use: 'sig',
  }];

// Machine clients. org_code, and any claims given, go into every access
// token they get.
const m2m = (clientId, secret, orgCode, claims) => ({
  client: {
    client_id: clientId,
    client_secret: secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    // client_secret_basic is accepted as well (any secret-based method is).
    token_endpoint_auth_method: 'client_secret_post',
  },
  orgCode,
  claims,
});
// Delegated tokens (RFC 8693 act, may_act). A client_credentials token's
// sub is its client (oidc-provider sets it; extra claims cannot change it);
// act names who acts for that subject, the current actor outermost.
const agent = { sub: 'support-agent', client_id: 'support-agent' };
const subAgent = { sub: 'sub-agent', client_id: 'sub-agent', act: agent };
const deepAct = Array.from({ length: 9 }, (_, i) => `agent-${i + 1}`)
  .reduce((act, id) => ({ sub: id, client_id: id, ...(act ? { act } : {}) }), undefined);
const registry = [
  m2m('acme-m2m', 'acme-secret', 'org_acme'),
  m2m('beta-m2m', 'beta-secret', 'org_beta'),
  m2m('global-m2m', 'global-secret', undefined),
  m2m('short-m2m', 'short-secret', 'org_acme'),
  m2m('introspector', 'introspector-secret', undefined),
  m2m('delegated-m2m', 'delegated-secret', 'org_acme', { act: agent, purpose: 'onboard the new hire of ticket 7' }),
  m2m('chained-m2m', 'chained-secret', 'org_acme', { act: subAgent }),
  m2m('may-act-m2m', 'may-act-secret', 'org_acme', { act: agent, may_act: { client_id: 'support-agent' } }),
  m2m('may-not-act-m2m', 'may-not-act-secret', 'org_acme', { act: agent, may_act: { client_id: 'other-agent' } }),
  m2m('bad-act-m2m', 'bad-act-secret', 'org_acme', { act: 'support-agent' }),
  m2m('deep-act-m2m', 'deep-act-secret', 'org_acme', { act: deepAct }),
];
const extraClaims = new Map(registry.map(({ client, orgCode, claims }) => [
  client.client_id,
  orgCode || claims ? { ...(orgCode ? { org_code: orgCode } : {}), ...claims } : undefined,
]));

// Bind first so that PORT=0 yields the real port for the issuer.
const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number.parseInt(process.env.PORT || '0', 10), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: registry.map(({ client }) => client),
  jwks: { keys },
  features: {
    devInteractions: { enabled: false }, // no end-user flows here
    clientCredentials: { enabled: true },
    introspection: {
      enabled: OPAQUE,
      // Only the resource server's own client may introspect; others get
      // {"active": false}.
      allowedPolicy: async (ctx, client) => client.clientId === 'introspector',
    },
    revocation: {
      enabled: OPAQUE,
      // A client revokes only its own tokens (oidc-provider's default rule).
      async allowedPolicy(ctx, client, token) {
        if (token.clientId !== client.clientId) {
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        }
        return true;
      },
    },
    resourceIndicators: {
      enabled: true,
      // No `resource` parameter: no resource server, i.e. an opaque token
      // without aud (oidc-provider's default).
      async getResourceServerInfo(ctx, resourceIndicator, client) {
        if (resourceIndicator !== RESOURCE && resourceIndicator !== OTHER_RESOURCE) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: SCOPES, // requested scopes outside this set are dropped
          audience: resourceIndicator,
          accessTokenFormat: TOKEN_FORMAT,
          ...(OPAQUE ? {} : { jwt: { sign: { alg: 'RS256' } } }),
        };
      },
    },
  },
  // Ends up in the JWT payload (jwt) or the introspection response (opaque).
  async extraTokenClaims(ctx, token) {
    return structuredClone(extraClaims.get(token.clientId));
  },
  ttl: {
    ClientCredentials(ctx, token, client) {
      return client.clientId === 'short-m2m' ? SHORT_TTL : 10 * 60;
    },
  },
});

// Test hooks: count jwks_uri fetches and report them.
const jwksPath = new URL(provider.urlFor('jwks')).pathname;
let jwksFetches = 0;
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/__test/stats') {
    ctx.body = { jwks_fetches: jwksFetches };
    return;
  }
  if (ctx.method === 'GET' && ctx.path === jwksPath) jwksFetches += 1;
  await next();
});
provider.on('server_error', (ctx, err) => console.error('server_error:', err));

server.on('request', provider.callback());

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.env.EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', stop).on('error', stop).resume();
}

console.log(`READY ${issuer}`);
