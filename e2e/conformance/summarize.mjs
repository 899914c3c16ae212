// Reads the results run.sh collected (the suite's checks.json files) and
// writes summary.json and summary.md next to them: per suite version, mode
// and requirement set, each scenario's outcome and the totals, with every
// failing check triaged by triage.mjs as a missing fixture, an optional
// feature OrgScope does not offer, or a real failure.
//
// usage: node summarize.mjs OUT_DIR NODE_MODULES_DIR
import { readFileSync, readdirSync, existsSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { triage, CATEGORY_ORDER } from './triage.mjs';

const [outDir, modulesDir] = process.argv.slice(2);
if (!outDir || !modulesDir) {
  console.error('usage: node summarize.mjs OUT_DIR NODE_MODULES_DIR');
  process.exit(2);
}

const isDir = (p) => existsSync(p) && statSync(p).isDirectory();
const dirs = (p) => (isDir(p) ? readdirSync(p).filter((n) => isDir(join(p, n))).sort() : []);
const read = (p) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

// Which suite version lives in which alias, and its requirement sets.
const suites = {};
for (const alias of readdirSync(modulesDir).filter((n) => n.startsWith('conformance-'))) {
  const dir = join(modulesDir, alias);
  const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const requirements = {};
  const reqDir = join(dir, 'requirements');
  if (isDir(reqDir)) {
    for (const f of readdirSync(reqDir).filter((n) => n.endsWith('.yaml'))) {
      const doc = YAML.parse(readFileSync(join(reqDir, f), 'utf8'));
      const notScored = Object.fromEntries((doc.not_scored ?? []).filter((e) => e.leg === 'server').map((e) => [e.scenario, e.reason]));
      requirements[f.replace(/\.yaml$/, '')] = { scored: new Set(doc.server ?? []), notScored };
    }
  }
  suites[version] = { alias, requirements };
}

// A results directory is <prefix>-<scenario>-<ISO time with dashes>.
const scenarioOf = (name) => name.replace(/^(server|authorization-server)-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');

function outcome(checks) {
  const count = (s) => checks.filter((c) => c.status === s).length;
  const n = { pass: count('SUCCESS'), fail: count('FAILURE'), warn: count('WARNING'), skip: count('SKIPPED'), info: count('INFO') };
  // Passed: something was checked and nothing failed. Skipped: nothing was
  // checked (only warnings, skips and notes: the scenario does not apply).
  const result = n.fail > 0 ? 'fail' : n.pass > 0 ? 'pass' : 'skip';
  return { result, n };
}

function collect(setDir, set, version, mode) {
  const rows = [];
  const resultsDir = join(setDir, 'results');
  // A scenario the suite started (its log says so) but that left no results
  // directory crashed before writing any: it counts as an error.
  const started = new Set();
  for (const f of readdirSync(setDir).filter((n) => n.endsWith('.txt'))) {
    for (const m of read(join(setDir, f)).matchAll(/Running client scenario (?:for authorization server )?'([^']+)'/g)) started.add(m[1]);
  }
  const seen = new Set(dirs(resultsDir).map(scenarioOf));
  for (const scenario of [...started].filter((s) => !seen.has(s)).sort()) {
    rows.push({ version, mode, set, scenario, result: 'error', n: {}, failures: [], warnings: [], note: 'no results: the suite crashed on this scenario (see its log)' });
  }
  for (const name of dirs(resultsDir)) {
    const scenario = scenarioOf(name);
    const file = join(resultsDir, name, 'checks.json');
    if (!existsSync(file)) {
      rows.push({ version, mode, set, scenario, result: 'error', n: {}, failures: [], warnings: [], note: 'no checks.json: the scenario crashed or timed out' });
      continue;
    }
    const checks = JSON.parse(readFileSync(file, 'utf8'));
    const { result, n } = outcome(checks);
    const failures = checks.filter((c) => c.status === 'FAILURE').map((c) => ({
      id: c.id,
      message: String(c.errorMessage ?? c.description ?? ''),
      spec: (c.specReferences ?? []).map((r) => r.id).join(', '),
      // Without a token every failure is the 401; triage is for the runs with one.
      ...(mode === 'noauth' ? { category: 'no-token', why: 'no token' } : triage({ scenario, set, check: c.id, message: String(c.errorMessage ?? c.description ?? ''), details: c.details })),
    }));
    const warnings = checks.filter((c) => c.status === 'WARNING').map((c) => ({ id: c.id, message: String(c.errorMessage ?? c.description ?? '') }));
    let category = null;
    for (const cat of CATEGORY_ORDER) if (failures.some((f) => f.category === cat)) category = cat;
    let scored = null;
    const rev = set.startsWith('requirements-') ? set.slice('requirements-'.length) : null;
    const req = rev && suites[version]?.requirements[rev];
    if (req) scored = req.scored.has(scenario) ? 'scored' : `not scored (${req.notScored[scenario] ?? 'not listed'})`;
    rows.push({ version, mode, set, scenario, result, n, category, scored, failures, warnings });
  }
  return rows;
}

const rows = [];
const meta = read(join(outDir, 'meta.txt'));
const passes = {};
for (const version of dirs(outDir)) {
  for (const mode of dirs(join(outDir, version))) {
    const modeDir = join(outDir, version, mode);
    if (mode === 'authorization') {
      rows.push(...collect(modeDir, 'authorization', version, mode));
      continue;
    }
    passes[`${version}/${mode}`] = { mcp401: Number(read(join(modeDir, 'mcp-401-count.txt')).trim() || 0) };
    for (const set of dirs(modeDir)) rows.push(...collect(join(modeDir, set), set, version, mode));
  }
}

function totals(list) {
  const t = { scenarios: list.length, pass: 0, fail: 0, skip: 0, error: 0, fixture: 0, 'not-offered': 0, real: 0, checks: { pass: 0, fail: 0, warn: 0 } };
  for (const r of list) {
    t[r.result]++;
    if (r.result === 'fail' && r.category in t) t[r.category]++;
    t.checks.pass += r.n.pass ?? 0;
    t.checks.fail += r.n.fail ?? 0;
    t.checks.warn += r.n.warn ?? 0;
  }
  const scored = list.filter((r) => r.scored === 'scored');
  if (scored.length) {
    const by = (res) => scored.filter((r) => r.result === res).length;
    t.scored = { scenarios: scored.length, pass: by('pass'), fail: by('fail'), skip: by('skip'), error: by('error') };
  }
  return t;
}

const groups = {};
for (const r of rows) (groups[`${r.version}|${r.mode}|${r.set}`] ??= []).push(r);
const summary = {
  meta,
  passes,
  groups: Object.entries(groups).map(([k, list]) => {
    const [version, mode, set] = k.split('|');
    return { version, mode, set, totals: totals(list) };
  }),
  scenarios: rows,
};
writeFileSync(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');

// --- summary.md -------------------------------------------------------------------
const md = [];
const setLabel = (set) => (set.startsWith('requirements-') ? `requirements ${set.slice(13)} (at its wire)` : set === 'scenarios' ? 'scenarios run alone (suite default wire)' : set);
md.push('# OrgScope against the official MCP conformance suite', '', '```', meta.trim(), '```', '');
md.push('Failing scenarios are split by triage.mjs: **fixture** = the scenario needs a tool/prompt/resource named by the',
  "suite's reference server (e.g. `test_simple_text`) that OrgScope does not have; **not offered** = an optional",
  'capability or extension OrgScope does not declare; **real** = a spec check OrgScope fails. A scenario counts',
  'in the worst bucket of its failing checks (real > not offered > fixture). skip = nothing applied (only warnings/skips).', '');
md.push('## Totals', '');
md.push('| suite | mode | set | scenarios | pass | fail | skip | err | fail: fixture / not offered / real | scored: pass / fail / skip of | checks pass/fail/warn |');
md.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const g of summary.groups) {
  const t = g.totals;
  const buckets = g.mode === 'noauth' ? '—' : `${t.fixture} / ${t['not-offered']} / ${t.real}`;
  md.push(`| ${g.version} | ${g.mode} | ${setLabel(g.set)} | ${t.scenarios} | ${t.pass} | ${t.fail} | ${t.skip} | ${t.error} | ${buckets} | ${t.scored ? `${t.scored.pass} / ${t.scored.fail} / ${t.scored.skip} of ${t.scored.scenarios}` : '—'} | ${t.checks.pass}/${t.checks.fail}/${t.checks.warn} |`);
}
md.push('');
for (const [k, p] of Object.entries(passes)) {
  if (k.endsWith('/auth')) md.push(`- ${k}: requests to /mcp answered 401 during the pass: **${p.mcp401}** (0 means the token reached every request).`);
}
md.push('');

const failing = rows.filter((r) => r.mode !== 'noauth');
md.push('## Real failures (with a token)', '');
const real = failing.flatMap((r) => r.failures.filter((f) => f.category === 'real').map((f) => ({ r, f })));
if (!real.length) md.push('None.');
for (const { r, f } of real) {
  md.push(`- **${r.version}** · ${setLabel(r.set)} · \`${r.scenario}\` · \`${f.id}\`${r.scored ? ` · ${r.scored}` : ''}`);
  md.push(`  - suite: ${f.message.slice(0, 400)}`);
  if (f.spec) md.push(`  - spec: ${f.spec}`);
  md.push(`  - why: ${f.why}`);
}
md.push('');

md.push('## Per scenario (with a token)', '');
for (const g of summary.groups.filter((g) => g.mode !== 'noauth')) {
  md.push(`### ${g.version} · ${g.mode} · ${setLabel(g.set)}`, '');
  md.push('| scenario | result | checks p/f/w/s | bucket | scored | failing checks (bucket: why) |', '|---|---|---|---|---|---|');
  for (const r of groups[`${g.version}|${g.mode}|${g.set}`]) {
    const why = [...new Map(r.failures.map((f) => [`${f.category}: ${f.why}`, f.id])).entries()].map(([w, id]) => `\`${id}\` ${w}`).join('<br>');
    const notes = r.note ?? (r.result === 'skip' && r.warnings.length ? `warning: ${r.warnings.map((w) => w.message).join('; ')}` : '');
    md.push(`| ${r.scenario} | ${r.result} | ${r.n.pass ?? '-'}/${r.n.fail ?? '-'}/${r.n.warn ?? '-'}/${r.n.skip ?? '-'} | ${r.category ?? ''} | ${r.scored ?? ''} | ${why || notes} |`);
  }
  md.push('');
}

md.push('## Warnings (with a token)', '');
for (const r of failing) for (const w of r.warnings) md.push(`- ${r.version} · ${setLabel(r.set)} · \`${r.scenario}\` · \`${w.id}\`: ${w.message.slice(0, 300)}`);
md.push('');

const noauth = rows.filter((r) => r.mode === 'noauth');
if (noauth.length) {
  md.push('## Without a token', '');
  md.push('The suite itself sends no Authorization header; these are its results as it stands. Scenarios that pass:', '');
  for (const g of summary.groups.filter((g) => g.mode === 'noauth')) {
    const passed = groups[`${g.version}|${g.mode}|${g.set}`].filter((r) => r.result === 'pass').map((r) => r.scenario);
    md.push(`- ${g.version} · ${setLabel(g.set)}: ${passed.length}/${g.totals.scenarios} — ${passed.join(', ') || 'none'}`);
  }
  md.push('');
}
writeFileSync(join(outDir, 'summary.md'), md.join('\n'));
process.stdout.write(md.slice(0, md.indexOf('## Per scenario (with a token)')).join('\n') + '\n');
