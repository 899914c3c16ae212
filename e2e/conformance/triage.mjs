// Triage of failing checks: each rule names a category and why, and the
// first rule that matches a failing check wins. A check no rule matches is
// "real" and marked untriaged, so a new failure is never hidden as a
// fixture: read it, then add a rule (or fix OrgScope).
//
//   fixture      the scenario drives a tool, prompt or resource named by the
//                suite's reference server ("everything server"), which
//                OrgScope, a server with its own tools, does not have
//   not-offered  an optional capability or extension OrgScope does not
//                declare, so the behaviour the scenario checks does not apply
//   real         a spec check OrgScope fails
//
// Match fields (all optional, each a RegExp): scenario, check (the check
// id), message (the check's errorMessage), set (the requirement set); why
// is a string or a function of the message.
export const CATEGORY_ORDER = ['fixture', 'not-offered', 'real'];

const rules = [
  // --- extensions OrgScope does not declare: every check of theirs -------------
  // (their scenarios also call reference-server tools, but the extension's
  // absence is the reason they cannot apply)
  { scenario: /^tasks-/, category: 'not-offered', why: 'io.modelcontextprotocol/tasks extension (SEP-2663) not declared; not scored by the suite' },
  { scenario: /^sep-2640-skills-/, category: 'not-offered', why: 'io.modelcontextprotocol/skills extension (SEP-2640) not declared' },

  // --- fixtures: names from the reference server -----------------------------
  { message: /unknown (tool|prompt) "/, category: 'fixture', why: (m) => `calls reference-server ${/unknown (tool|prompt) "([^"]+)"/.exec(m).slice(1).join(' ')}, which OrgScope does not have` },
  { message: /^Tool '[^']+' not found/, category: 'fixture', why: (m) => `needs reference-server tool ${/^Tool '([^']+)'/.exec(m)[1]}, which OrgScope does not have` },
  { scenario: /^resources-(read-text|read-binary|templates-read)$/, message: /Resource not found/, category: 'fixture', why: 'reads a test:// resource of the reference server; OrgScope has no resources' },
  { message: /does not list the diagnostic tool/, category: 'fixture', why: "needs a diagnostic tool of the suite's reference server" },
  { message: /exposes no tool with x-mcp-header/, category: 'fixture', why: 'needs a tool declaring x-mcp-header parameters (SEP-2243 custom headers); OrgScope has none' },
  { message: /^Not testable: no task was created|fixture from Check \d+ unavailable/, category: 'fixture', why: 'follows from an earlier check of the scenario that needed a reference-server tool' },
  // These two report only that no InputRequiredResult came back; the tools
  // they call (test_input_required_result_multi_round, _tampered_state) are
  // the reference server's, and OrgScope answers them "unknown tool".
  { scenario: /^input-required-result-(multi-round|tampered-state)$/, message: /^(Expected InputRequiredResult|Prerequisite failed)/, category: 'fixture', why: 'calls test_input_required_result_* of the reference server (unknown tool); the check reports only the missing InputRequiredResult' },

  // --- optional capabilities and extensions OrgScope does not declare ---------
  { scenario: /^completion-complete$/, message: /method not found/i, category: 'not-offered', why: 'completions capability not declared (optional); -32601 is the right answer for an undeclared method' },
  { scenario: /^resources-(un)?subscribe$/, message: /method not found/i, category: 'not-offered', why: 'resources capability (with subscribe) not declared (optional); -32601 is the right answer' },

  // --- real failures, explained (as measured on the baseline, 2ca54af) ---------
  { scenario: /^server-stateless$/, check: /^sep-2575-server-declares-prompts-in-discover$/, category: 'real',
    why: 'server/discover declares only logging and tools, yet prompts/list (and resources/list) answer with an empty list instead of -32601: the go-sdk serves them undeclared (SEP-2575: a server declares what it handles)' },
  { scenario: /^server-stateless$/, check: /^sep-2575-server-(sends-subscription-ack|tags-subscription-id)$/, category: 'real',
    why: "tools.listChanged is declared, so subscriptions/listen applies; mcpserver's outage buffer (outage.go) holds every /mcp answer until the handler returns, so no frame of the stream, not even notifications/subscriptions/acknowledged, reaches the client while it is open (SEP-2575)" },
];

export function triage({ scenario, set, check, message }) {
  for (const r of rules) {
    if (r.scenario && !r.scenario.test(scenario)) continue;
    if (r.set && !r.set.test(set)) continue;
    if (r.check && !r.check.test(check)) continue;
    if (r.message && !r.message.test(message)) continue;
    return { category: r.category, why: typeof r.why === 'function' ? r.why(message) : r.why };
  }
  return { category: 'real', why: 'untriaged: read the check and its details in checks.json' };
}
