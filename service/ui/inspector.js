// The memstrata inspector: plain DOM over the /v1 JSON API, with the tenant's API key.
// Every text from the API goes in through textContent, never as HTML.

const $ = (selector) => document.querySelector(selector);
const HORIZON_HOURS = 90 * 24; // the resume slider reaches 90 days ahead

const state = { key: sessionStorage.getItem("memstrata.key") || "", user: "", facts: new Map() };

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "—";
}

function short(id) {
  return id ? id.slice(0, 8) : "";
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: {
      Authorization: `Bearer ${state.key}`,
      ...(options.body ? { "Content-Type": "application/json" } : {}),
    },
  });
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && (body.detail || body.title);
    throw new Error(`${response.status}: ${detail || response.statusText}`);
  }
  return body;
}

const userPath = (rest = "") => `/v1/users/${encodeURIComponent(state.user)}${rest}`;

// --- who ------------------------------------------------------------------------------

async function open(event) {
  event.preventDefault();
  state.key = $("#key").value.trim();
  state.user = $("#user").value.trim();
  sessionStorage.setItem("memstrata.key", state.key);
  showError("");
  try {
    const users = await api("/v1/users?limit=1000");
    $("#users").replaceChildren(...users.map((u) => h("option", { value: u.id })));
    $("#intro").hidden = true;
    $("#tabs").hidden = false;
    $("#forget").disabled = false;
    await show(currentView());
  } catch (error) {
    // A refused key shows nothing of what an earlier key could read.
    $("#tabs").hidden = true;
    $("#forget").disabled = true;
    for (const name of Object.keys(views)) $(`#${name}`).hidden = true;
    $("#intro").hidden = false;
    showError(error.message);
  }
}

async function forget() {
  const sure = confirm(
    `Forget ${state.user}? Every tier, the hot state and the run ledger of this user are ` +
      "deleted for good.",
  );
  if (!sure) return;
  try {
    await api(userPath(), { method: "DELETE" });
    await show(currentView());
  } catch (error) {
    showError(error.message);
  }
}

// --- views ----------------------------------------------------------------------------

const views = { timeline, tiers, recall: () => {}, resume, jobs };

function currentView() {
  return $("#tabs .active").dataset.view;
}

async function show(view) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.view === view);
  }
  for (const name of Object.keys(views)) $(`#${name}`).hidden = name !== view;
  try {
    await views[view]();
  } catch (error) {
    showError(error.message);
  }
}

// Timeline: sessions on a time axis, then as cards; a click opens transcript and facts.
async function timeline() {
  const sessions = await api(userPath("/sessions?limit=1000"));
  drawAxis(sessions);
  $("#sessions").replaceChildren(
    ...(sessions.length ? sessions.map(sessionCard) : [h("li", { class: "empty" }, "No sessions.")]),
  );
  $("#session-detail").hidden = true;
}

function drawAxis(sessions) {
  const svg = $("#axis");
  const width = svg.clientWidth || 900;
  svg.setAttribute("viewBox", `0 0 ${width} 70`);
  svg.replaceChildren();
  if (!sessions.length) return;
  const start = Math.min(...sessions.map((s) => Date.parse(s.started_at)));
  const end = Math.max(Date.now(), ...sessions.map((s) => Date.parse(s.last_active_at)));
  const span = Math.max(end - start, 60_000);
  const x = (t) => 10 + ((t - start) / span) * (width - 20);
  const ns = "http://www.w3.org/2000/svg";
  const line = document.createElementNS(ns, "line");
  for (const [name, value] of Object.entries({ x1: 10, x2: width - 10, y1: 50, y2: 50 })) {
    line.setAttribute(name, value);
  }
  svg.append(line);
  for (const [t, label] of [[start, when(new Date(start).toISOString())], [end, "now"]]) {
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", x(t));
    text.setAttribute("y", 66);
    text.setAttribute("text-anchor", t === start ? "start" : "end");
    text.textContent = label;
    svg.append(text);
  }
  for (const session of sessions) {
    const left = x(Date.parse(session.started_at));
    const right = x(Date.parse(session.last_active_at));
    const bar = document.createElementNS(ns, "rect");
    const attributes = { x: left - 3, y: 18, width: Math.max(right - left, 0) + 6, height: 24, rx: 4 };
    for (const [name, value] of Object.entries(attributes)) bar.setAttribute(name, value);
    bar.setAttribute("class", `bar ${session.status}`);
    bar.dataset.session = session.id;
    const title = document.createElementNS(ns, "title");
    title.textContent = `${session.status}, ${session.turns} turns, ${when(session.started_at)}`;
    bar.append(title);
    bar.addEventListener("click", () => openSession(session));
    svg.append(bar);
    if (sessions.length <= 12) {
      const label = document.createElementNS(ns, "text");
      const middle = (left + right) / 2;
      const anchor = middle < 40 ? "start" : middle > width - 40 ? "end" : "middle";
      label.setAttribute("x", anchor === "start" ? left - 3 : anchor === "end" ? right + 3 : middle);
      label.setAttribute("y", 13);
      label.setAttribute("text-anchor", anchor);
      label.textContent = new Date(session.started_at).toLocaleDateString(undefined, { month: "short", day: "numeric" });
      svg.append(label);
    }
  }
}

function sessionCard(session) {
  return h(
    "li",
    { class: "card session", "data-session": session.id, onclick: () => openSession(session) },
    h("span", { class: `status ${session.status}` }, session.status.replace("_", " ")),
    h("strong", {}, when(session.started_at)),
    h(
      "span",
      { class: "muted" },
      ` · ${session.turns} turns` +
        (session.retained < session.turns ? ` (${session.retained} retained)` : "") +
        (session.device_id ? ` · ${session.device_id}` : "") +
        (session.thread && session.thread !== "main" ? ` · thread ${session.thread}` : "") +
        ` · last active ${when(session.last_active_at)}`,
    ),
    session.summary ? h("p", { class: "summary" }, session.summary) : null,
    session.topics.length ? h("p", { class: "topics" }, session.topics.join(" · ")) : null,
  );
}

async function openSession(session) {
  const path = userPath(`/sessions/${session.id}`);
  const [messages, facts] = await Promise.all([
    api(`${path}/messages?limit=1000`),
    api(`${path}/facts`),
  ]);
  $("#session-title").textContent = `Session ${short(session.id)} · ${when(session.started_at)}`;
  $("#transcript").replaceChildren(
    ...(messages.length
      ? messages.map((m) => turn(m.role, m.content, `#${m.seq} · ${when(m.created_at)}`))
      : [h("li", { class: "empty" }, "The transcript is no longer retained.")]),
  );
  const byId = new Map(facts.map((f) => [f.id, f]));
  $("#session-facts").replaceChildren(
    ...(facts.length ? facts.map((f) => factItem(f, byId)) : [h("li", { class: "empty" }, "None.")]),
  );
  $("#session-detail").hidden = false;
  $("#session-detail").scrollIntoView({ block: "nearest" });
}

function turn(role, content, note) {
  return h("li", { class: `turn ${role}` }, h("span", { class: "role" }, role), note ? h("span", { class: "muted" }, note) : null, h("div", { class: "content" }, content));
}

function factItem(fact, byId) {
  const ended = Boolean(fact.superseded_by || fact.valid_to);
  const replacement = fact.superseded_by ? byId.get(fact.superseded_by) : null;
  return h(
    "li",
    { class: ended ? "fact superseded" : "fact", id: `fact-${fact.id}`, "data-fact": fact.id },
    h("span", { class: `kind kind-${fact.kind}` }, fact.kind),
    h(ended ? "s" : "span", { class: "text" }, fact.text),
    h(
      "span",
      { class: "muted" },
      ` importance ${fact.importance.toFixed(2)} · valid ${when(fact.valid_from)} → ` +
        (fact.valid_to ? when(fact.valid_to) : "now"),
    ),
    fact.superseded_by
      ? h(
          "a",
          { class: "replaced-by", href: `#fact-${fact.superseded_by}`, onclick: () => highlight(fact.superseded_by) },
          `replaced by ${replacement ? `“${replacement.text}”` : short(fact.superseded_by)}`,
        )
      : null,
  );
}

function highlight(factId) {
  for (const element of document.querySelectorAll(`[data-fact="${factId}"]`)) {
    element.classList.add("flash");
    setTimeout(() => element.classList.remove("flash"), 1500);
  }
}

// Tiers side by side: facts (superseded struck through), knowledge with its facts, journal diff.
async function tiers() {
  const [facts, knowledge, versions] = await Promise.all([
    api(userPath("/facts?include_superseded=true&limit=1000")),
    api(userPath("/knowledge?include_retired=true&limit=1000")),
    api(userPath("/journal/versions?limit=1000")),
  ]);
  state.facts = new Map(facts.map((f) => [f.id, f]));
  $("#facts").replaceChildren(
    ...(facts.length ? facts.map((f) => factItem(f, state.facts)) : [h("li", { class: "empty" }, "No facts yet.")]),
  );
  $("#knowledge").replaceChildren(
    ...(knowledge.length ? knowledge.map(knowledgeItem) : [h("li", { class: "empty" }, "No knowledge yet.")]),
  );
  journalPicker(versions);
}

function knowledgeItem(item) {
  const cited = item.fact_ids.map((id) => state.facts.get(id)).filter(Boolean);
  return h(
    "li",
    { class: item.retired_at ? "insight retired" : "insight" },
    h(item.retired_at ? "s" : "span", {}, item.text),
    h("span", { class: "muted" }, ` v${item.version} · importance ${item.importance.toFixed(2)}`),
    h("ul", { class: "cites" }, cited.map((f) => h("li", {}, h("a", { href: `#fact-${f.id}`, onclick: () => highlight(f.id) }, f.text)))),
  );
}

function journalPicker(versions) {
  const ordered = [...versions].sort((a, b) => a.version - b.version);
  const options = () => ordered.map((v) => h("option", { value: v.version }, `v${v.version} · ${when(v.created_at)}`));
  const a = $("#journal-a");
  const b = $("#journal-b");
  a.replaceChildren(h("option", { value: 0 }, "(empty)"), ...options());
  b.replaceChildren(...options());
  const byVersion = new Map(ordered.map((v) => [String(v.version), v.content]));
  const render = () => {
    const before = byVersion.get(a.value) || "";
    const after = byVersion.get(b.value) || "";
    $("#journal-diff").replaceChildren(
      ...(ordered.length ? lineDiff(before, after) : [h("span", { class: "empty" }, "No journal yet.")]),
    );
  };
  a.onchange = render;
  b.onchange = render;
  if (ordered.length) {
    b.value = String(ordered.at(-1).version);
    a.value = ordered.length > 1 ? String(ordered.at(-2).version) : "0";
  }
  render();
}

// A line diff by longest common subsequence: journals are a few hundred lines at most.
function lineDiff(before, after) {
  const a = before ? before.split("\n") : [];
  const b = after ? after.split("\n") : [];
  const common = Array.from({ length: a.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const lines = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push(h("span", { class: "same" }, `  ${a[i]}\n`));
      i++;
      j++;
    } else if (j < b.length && (i === a.length || common[i][j + 1] >= common[i + 1][j])) {
      lines.push(h("ins", {}, `+ ${b[j]}\n`));
      j++;
    } else {
      lines.push(h("del", {}, `- ${a[i]}\n`));
      i++;
    }
  }
  return lines;
}

// Recall explorer: ranked hits with their score parts and the turns they cite.
async function runRecall(event) {
  event.preventDefault();
  showError("");
  try {
    const tiers = [...document.querySelectorAll("#recall-tiers input:checked")].map((i) => i.value);
    const hits = await api(userPath("/recall"), {
      method: "POST",
      body: JSON.stringify({ query: $("#query").value, k: Number($("#k").value), tiers }),
    });
    const ids = [...new Set(hits.flatMap((hit) => hit.provenance.message_ids))].slice(0, 100);
    const cited = ids.length
      ? await api(userPath(`/messages?${ids.map((id) => `id=${id}`).join("&")}`))
      : [];
    const messages = new Map(cited.map((m) => [m.id, m]));
    const number = (value, digits = 2) => (value === null || value === undefined ? "—" : value.toFixed(digits));
    $("#hits tbody").replaceChildren(
      ...hits.map((hit, index) =>
        h(
          "tr",
          { class: "hit" },
          h("td", {}, index + 1),
          h("td", {}, h("span", { class: `tier ${hit.tier}` }, hit.tier), hit.kind ? h("div", { class: "muted" }, hit.kind) : null),
          h(
            "td",
            {},
            h("div", {}, hit.text),
            h(
              "ul",
              { class: "sources" },
              hit.provenance.message_ids.map((id) => {
                const m = messages.get(id);
                return m
                  ? h("li", {}, h("span", { class: "muted" }, `session ${short(m.session_id)} #${m.seq} ${m.role}: `), m.content)
                  : h("li", { class: "muted" }, `message ${short(id)} (no longer retained)`);
              }),
            ),
          ),
          h("td", {}, number(hit.score)),
          h("td", {}, number(hit.parts.cosine)),
          h("td", {}, number(hit.parts.text_score)),
          h("td", {}, number(hit.parts.context_score)),
          h("td", {}, number(hit.parts.recency)),
          h("td", {}, number(hit.parts.importance)),
        ),
      ),
    );
    if (!hits.length) $("#hits tbody").replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "Nothing recalled.")));
  } catch (error) {
    showError(error.message);
  }
}

// Resume preview: the slider picks a moment from now to 90 days ahead (finer near now,
// where the planner's thresholds are); the planner answers for that moment.
function sliderHours(position) {
  return HORIZON_HOURS * (position / 1000) ** 3;
}

function describe(hours) {
  if (hours < 1 / 60) return "now";
  const days = Math.floor(hours / 24);
  const rest = hours - days * 24;
  const parts = [];
  if (days) parts.push(`${days} day${days === 1 ? "" : "s"}`);
  if (rest >= 1 / 60 && days < 7) {
    parts.push(rest >= 1 ? `${Math.floor(rest)} h ${Math.round((rest % 1) * 60)} min` : `${Math.round(rest * 60)} min`);
  }
  return `in ${parts.join(" ")}`;
}

function duration(seconds) {
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days ${hours % 24} h`;
}

let pending = null;
let asked = 0;

async function resume() {
  const hours = sliderHours(Number($("#moment").value));
  const at = new Date(Date.now() + hours * 3_600_000);
  $("#when").textContent = `${describe(hours)} (${when(at.toISOString())})`;
  const mine = ++asked;
  const context = await api(userPath("/resume"), { method: "POST", body: JSON.stringify({ now: at.toISOString() }) });
  if (mine !== asked) return; // a later position answered first
  $("#mode").textContent = context.mode.replace("_", " ");
  $("#mode").className = `mode ${context.mode}`;
  $("#plan").dataset.mode = context.mode;
  $("#reason").textContent =
    (context.gap_s === null ? "no earlier session" : `${duration(context.gap_s)} since the last activity`) +
    ` — ${context.reason}`;
  $("#greeting").textContent = context.greeting || "(no greeting)";
  $("#tokens").textContent = `${context.tokens} of ${context.budget_tokens} tokens`;
  $("#budget-meter").value = context.budget_tokens ? context.tokens / context.budget_tokens : 0;
  $("#injected").replaceChildren(...context.messages.map((m) => turn(m.role, m.content)));
}

function onSlide() {
  clearTimeout(pending);
  pending = setTimeout(() => resume().catch((error) => showError(error.message)), 120);
}

// Job view: the user's latest runs from the ledger.
async function jobs() {
  const runs = await api(userPath("/runs?limit=200"));
  $("#runs tbody").replaceChildren(
    ...runs.map((run) =>
      h(
        "tr",
        { class: `run ${run.status}` },
        h("td", {}, when(run.started_at)),
        h("td", {}, run.kind),
        h("td", {}, h("span", { class: `status ${run.status}` }, run.status)),
        h("td", {}, short(run.session_id)),
        h("td", {}, [run.model, run.prompt_version].filter(Boolean).join(" / ") || "—"),
        h("td", {}, `${run.input_tokens} / ${run.output_tokens}`),
        h("td", {}, run.llm_calls + (run.retries ? ` (+${run.retries} retries)` : "")),
        h("td", {}, `${run.wall_ms} ms`),
        h("td", { class: "error" }, run.error || ""),
      ),
    ),
  );
  if (!runs.length) $("#runs tbody").replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "empty" }, "No runs yet.")));
}

// --- wiring ---------------------------------------------------------------------------

$("#key").value = state.key;
$("#who").addEventListener("submit", open);
$("#forget").addEventListener("click", forget);
$("#recall-form").addEventListener("submit", runRecall);
$("#moment").addEventListener("input", onSlide);
for (const button of document.querySelectorAll("#tabs button")) {
  button.addEventListener("click", () => show(button.dataset.view));
}
// `/ui/#key=ms_…&user=ana` opens the inspector without retyping the key: the fragment never
// reaches the server or its logs, and the key is taken out of the address bar at once.
const params = new URLSearchParams(location.hash.slice(1));
if (params.get("user")) $("#user").value = params.get("user");
if (params.get("key")) {
  $("#key").value = params.get("key");
  params.delete("key");
  history.replaceState(null, "", `${location.pathname}${location.search}#${params}`);
  if ($("#user").value) $("#who").requestSubmit();
}
