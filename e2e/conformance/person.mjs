// Plays the person in the suite's authorization-code-grant scenario (an
// authorization-server scenario of the 0.2 suite), which prints an
// authorization URL and waits for a browser to come back to its callback
// server at http://127.0.0.1:<port>/callback. This opens that URL, signs
// in on OrgScope's sign-in page, approves the consent page (keeping the
// orgscope_csrf cookie by hand, as fetch has no cookie jar), and then
// follows the final redirect to the suite's callback, exactly as a browser
// would. It checks nothing itself: the suite judges the redirect and the
// token response.
//
// Usage: node person.mjs AUTHORIZATION_URL   (env USER_EMAIL, USER_PASSWORD)
// Exit status 0 when the callback was delivered; progress goes to stderr.
const [authorizationUrl] = process.argv.slice(2);
const { USER_EMAIL, USER_PASSWORD } = process.env;
const log = (...a) => console.error('[person]', ...a);

const cookies = new Map();
async function go(url, form) {
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
}

function unescapeHTML(s) {
  return s.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_, e) =>
    e[0] === '#' ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
      : { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[e.toLowerCase()]);
}

// The page's <form method="post" action="..."> and its hidden inputs.
function formOf(page, want) {
  if (page.status !== 200) throw new Error(`${page.url}: HTTP ${page.status}: ${page.body.slice(0, 300)}`);
  const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1];
  if (!action || !unescapeHTML(action).includes(want)) throw new Error(`${page.url}: no ${want} form: ${page.body.slice(0, 300)}`);
  const fields = {};
  for (const [, name, value] of page.body.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)) {
    fields[name] = unescapeHTML(value);
  }
  return { action: new URL(unescapeHTML(action), page.url), fields };
}

try {
  if (!authorizationUrl || !USER_EMAIL || !USER_PASSWORD) throw new Error('usage: USER_EMAIL=… USER_PASSWORD=… node person.mjs AUTHORIZATION_URL');
  let page = await go(authorizationUrl);
  // An authorization request OrgScope refuses outright may redirect with an
  // error instead of showing a page: deliver that too.
  let back;
  if (page.status >= 300 && page.status < 400 && page.location) {
    back = new URL(page.location, authorizationUrl);
  } else {
    const login = formOf(page, '/oauth2/login');
    const consent = formOf(await go(login.action, { ...login.fields, email: USER_EMAIL, password: USER_PASSWORD }), '/oauth2/consent');
    const done = await go(consent.action, { ...consent.fields, decision: 'approve' });
    if (done.status < 300 || done.status >= 400 || !done.location) throw new Error(`consent: want a redirect, got HTTP ${done.status}: ${done.body.slice(0, 300)}`);
    back = new URL(done.location, consent.action);
  }
  log('redirected to', `${back.origin}${back.pathname}`);
  const delivered = await fetch(back, { redirect: 'manual' });
  log('callback answered HTTP', delivered.status);
} catch (e) {
  log(e?.stack ?? e);
  process.exit(1);
}
