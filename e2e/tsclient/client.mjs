// The TypeScript MCP SDK as an OAuth client of OrgScope, end to end: the SDK
// discovers the Protected Resource Metadata from the 401, fetches the
// authorization server's metadata, registers dynamically, and builds the
// authorization URL (PKCE S256, resource); redirectToAuthorization below
// plays the person's browser (sign-in, consent) with fetch and keeps the
// code; then finishAuth(code), reconnect, and call tools.
//
// Env: MCP_URL (http://127.0.0.1:PORT/mcp), USER_EMAIL, USER_PASSWORD.
// Stdout: one line of JSON, {"ok":true,"tools":[...],"whoami":{...},"users":[...]}
// or {"ok":false,"error":"..."} (exit 1). Progress goes to stderr.
//
// SCENARIO=stepup: after signing in (with the scopes of the first 401's
// challenge: read-only), call create_user, which needs write:users. On the
// 403 insufficient_scope the SDK itself decides what to do; when it sends
// the person to authorize again (UnauthorizedError), finish that and call
// again. KEEP_REFRESH_TOKEN=0 makes the provider keep no refresh token
// (SDK 1.32.2 refreshes instead of re-authorizing when it has one). Adds
// to the JSON: "authorizations" (the scope of every authorization request
// the SDK built), "tokenScopes" (the scope of every token response),
// "before"/"after" (whoami), "created" (the new user's email, or null) and
// "stepUpError" (what the call finally threw, or null).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { randomBytes } from 'node:crypto';

const { MCP_URL, USER_EMAIL, USER_PASSWORD, SCENARIO = 'basic', KEEP_REFRESH_TOKEN = '1' } = process.env;
const REDIRECT_URI = 'http://127.0.0.1:53683/callback'; // nothing listens: the browser stops at the 303
const log = (...a) => console.error('[tsclient]', ...a);

// Plays the browser: GET the authorization URL, sign in, approve, and return
// the redirect's query. Cookies (the CSRF cookie) are kept by hand, since
// fetch has no cookie jar; redirects are not followed.
async function browse(authorizationUrl, email, password) {
  const cookies = new Map();
  const go = async (url, form) => {
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      body: form && new URLSearchParams(form),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    return { url, status: res.status, location: res.headers.get('location'), body: await res.text() };
  };
  // The page's <form method="post" action="..."> and its hidden inputs.
  const formOf = (page, want) => {
    if (page.status !== 200) throw new Error(`${page.url}: HTTP ${page.status}: ${page.body.slice(0, 300)}`);
    const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1];
    if (!action || !action.endsWith(want)) throw new Error(`${page.url}: no ${want} form: ${page.body.slice(0, 300)}`);
    const fields = {};
    for (const [, name, value] of page.body.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)) {
      fields[name] = unescapeHTML(value);
    }
    return { action: new URL(unescapeHTML(action), page.url), fields };
  };

  const login = formOf(await go(authorizationUrl), '/oauth2/login');
  if (!cookies.has('orgscope_csrf')) throw new Error('the authorization page set no orgscope_csrf cookie');
  const consent = formOf(await go(login.action, { ...login.fields, email, password }), '/oauth2/consent');
  const done = await go(consent.action, { ...consent.fields, decision: 'approve' });
  if (done.status !== 303 || !done.location) throw new Error(`consent: want a 303, got HTTP ${done.status}: ${done.body.slice(0, 300)}`);
  return new URL(done.location, consent.action);
}

function unescapeHTML(s) {
  return s.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_, e) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
      : { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e.toLowerCase()]);
}

// An in-memory OAuthClientProvider: what the SDK hands it is kept as is.
class Provider {
  constructor() {
    this.saved = {};
    this.expectedState = randomBytes(16).toString('base64url');
    this.authorizations = []; // the scope of each authorization request
    this.tokenScopes = []; // the scope of each token response
  }
  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() {
    return {
      client_name: 'TS SDK e2e',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }
  state() { return this.expectedState; }
  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { log('registered client', info.client_id); this.saved.client = info; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) {
    log('got tokens, scope:', tokens.scope, tokens.refresh_token ? '(with a refresh token)' : '');
    this.tokenScopes.push(tokens.scope ?? null);
    if (KEEP_REFRESH_TOKEN === '0') {
      const { refresh_token, ...rest } = tokens;
      tokens = rest;
    }
    this.saved.tokens = tokens;
  }
  saveCodeVerifier(v) { this.saved.verifier = v; }
  codeVerifier() { return this.saved.verifier; }
  discoveryState() { return this.saved.discovery; }
  saveDiscoveryState(s) { this.saved.discovery = s; }

  // The SDK sends the person here. Check what it built, then sign in and
  // approve; keep the code for finishAuth.
  async redirectToAuthorization(url) {
    log('authorization URL', url.href);
    const q = url.searchParams;
    this.authorizations.push({ scope: q.get('scope') });
    this.code = undefined;
    if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge')) throw new Error(`no PKCE S256 in ${url}`);
    if (q.get('resource') !== MCP_URL) throw new Error(`resource ${q.get('resource')}, want ${MCP_URL}`);
    const back = await browse(url, USER_EMAIL, USER_PASSWORD);
    const r = back.searchParams;
    if (r.get('error')) throw new Error(`authorization error ${r.get('error')}: ${r.get('error_description')}`);
    if (`${back.origin}${back.pathname}` !== REDIRECT_URI) throw new Error(`redirected to ${back}`);
    if (r.get('state') !== this.expectedState) throw new Error(`state ${r.get('state')}, want ${this.expectedState}`);
    const issuer = this.saved.discovery?.authorizationServerMetadata?.issuer;
    if (!issuer || r.get('iss') !== issuer) throw new Error(`iss ${r.get('iss')}, want the issuer ${issuer}`); // RFC 9207
    if (!r.get('code')) throw new Error(`no code in ${back}`);
    this.code = r.get('code');
  }
}

async function main() {
  if (!MCP_URL || !USER_EMAIL || !USER_PASSWORD) throw new Error('set MCP_URL, USER_EMAIL and USER_PASSWORD');
  const provider = new Provider();
  const connect = async () => {
    const client = new Client({ name: 'orgscope-e2e-tsclient', version: '0.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider });
    await client.connect(transport);
    return { client, transport };
  };

  // First connection: 401 → the SDK's whole OAuth dance → our browser →
  // UnauthorizedError (the SDK waits for the redirect to come back).
  const first = await connect().then(() => null, e => e);
  if (!(first instanceof UnauthorizedError) || !provider.code) throw first ?? new Error('connected without signing in');
  // The redirect came back: exchange the code (with the verifier), then
  // connect again with the token.
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider });
  await transport.finishAuth(provider.code);
  const { client, transport: connected } = await connect();

  const step = (what, p) => p.catch(e => { throw new Error(`${what}: ${e?.message ?? e}`); });
  const tools = (await step('tools/list', client.listTools())).tools.map(t => t.name);
  const call = async (name, args) => {
    const res = await step(`tools/call ${name}`, client.callTool({ name, arguments: args }));
    if (res.isError) throw new Error(`${name}: ${JSON.stringify(res.content)}`);
    return res.structuredContent;
  };
  const whoami = await call('whoami');
  const users = (await call('list_users', { limit: 5 })).users.map(u => u.email);
  const out = { ok: true, tools, whoami, users };
  if (SCENARIO === 'stepup') Object.assign(out, await stepUp(client, connected, provider, call));
  await client.close();
  return out;
}

// The step-up scenario: a read-only token calls create_user.
async function stepUp(client, transport, provider, call) {
  const before = await call('whoami');
  const authorizationsBefore = provider.authorizations.length;
  const email = `stepup-${randomBytes(4).toString('hex')}@acme.example`;
  const create = () => client.callTool({ name: 'create_user', arguments: { email } });
  let res, stepUpError = null;
  try {
    res = await create();
  } catch (e) {
    if (e instanceof UnauthorizedError && provider.authorizations.length > authorizationsBefore && provider.code) {
      // The SDK sent the person to authorize again: the redirect came back.
      log('re-authorized; exchanging the code and calling again');
      await transport.finishAuth(provider.code);
      try {
        res = await create();
      } catch (e2) {
        stepUpError = String(e2?.message ?? e2);
      }
    } else {
      stepUpError = String(e?.message ?? e);
    }
  }
  if (res?.isError) stepUpError = `tool error: ${JSON.stringify(res.content)}`;
  const created = res && !res.isError ? res.structuredContent?.email ?? null : null;
  const after = await call('whoami');
  return { authorizations: provider.authorizations, tokenScopes: provider.tokenScopes, before, after, created, stepUpError };
}

try {
  console.log(JSON.stringify(await main()));
} catch (e) {
  log(e?.stack ?? e);
  console.log(JSON.stringify({ ok: false, error: String(e?.message ?? e) }));
  process.exit(1);
}
