/* RoboOS dashboard: six views over the cloud's JSON API, live through server-sent events. */
"use strict";

const state = { view: "robots", robots: [], tasks: [], selected: null, taskStream: null, camTimer: null,
                channelTimer: null, replay: null, overview: null };

async function api(path, opts) {
  const res = await fetch(path, Object.assign({ headers: { "Content-Type": "application/json" } }, opts || {}));
  let body = null;
  try { body = await res.json(); } catch (_e) { body = null; }
  if (!res.ok) {
    const msg = (body && (body.message || body.detail)) || `${res.status} ${res.statusText}`;
    throw new Error(typeof msg === "string" ? msg : JSON.stringify(msg));
  }
  return body;
}

function banner(text) {
  const el = document.getElementById("banner");
  el.textContent = text || "";
  el.hidden = !text;
}

function empty(text, hint) {
  return h("div", { class: "empty" }, h("p", {}, text), hint ? h("p", { class: "help" }, hint) : null);
}

function replace(id, ...nodes) { document.getElementById(id).replaceChildren(...nodes.filter(Boolean)); }

/* ------------------------------------------------------------------ navigation */
function show(view) {
  if (!document.getElementById(`view-${view}`)) view = "robots";
  state.view = view;
  document.querySelectorAll(".view").forEach(v => { v.hidden = v.id !== `view-${view}`; });
  document.querySelectorAll(".tabs a").forEach(a => {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  });
  clearInterval(state.camTimer); clearInterval(state.channelTimer);
  if (view === "skills") loadSkills();
  if (view === "history") loadHistoryTasks();
  if (view === "cameras") { loadCameras(); state.camTimer = setInterval(refreshCameras, 1000); }
  if (view === "channel") { loadChannel(); state.channelTimer = setInterval(loadChannel, 2000); }
  if (view === "robots") renderRobots();
  if (view === "tasks") renderTaskList();
}
window.addEventListener("hashchange", () => show(location.hash.slice(1)));

/* ------------------------------------------------------------------ live updates */
function connectEvents() {
  const live = document.getElementById("live");
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => { live.className = "live on"; live.setAttribute("aria-label", "live updates: connected"); banner(""); });
  es.addEventListener("error", () => {
    live.className = "live off"; live.setAttribute("aria-label", "live updates: reconnecting");
    banner("Lost the connection to the cloud; reconnecting…");
  });
  es.addEventListener("robots", ev => { state.robots = JSON.parse(ev.data); if (state.view === "robots") renderRobots(); });
  es.addEventListener("tasks", ev => {
    state.tasks = JSON.parse(ev.data);
    if (state.view === "tasks") renderTaskList();
    if (state.view === "history") loadHistoryTasks();
  });
  window.addEventListener("pagehide", () => es.close());
}

/* ------------------------------------------------------------------ robots */
function renderRobots() {
  if (!state.robots.length) {
    replace("robots", empty("No robots have registered yet.",
      "Start edge agents with `roboos edge`, or run `roboos up` for the simulated robots."));
    return;
  }
  replace("robots", ...state.robots.map(r => {
    const pose = r.pose ? `x ${(+r.pose.x).toFixed(2)}, y ${(+r.pose.y).toFixed(2)}, θ ${(+r.pose.theta || 0).toFixed(2)}` : "–";
    const cur = r.current ? `${r.current.skill}(${argText(r.current.args)}) — task ${r.current.task}` : "idle";
    const rows = [["Embodiment", r.embodiment], ["Status", r.status], ["Location", r.location || "–"], ["Pose", pose],
                  ["Holding", r.holding || "nothing"], ["Current subtask", cur],
                  ["Heartbeat age", r.heartbeat_age_s == null ? "–" : `${r.heartbeat_age_s.toFixed(2)} s`],
                  ["Link RTT", r.rtt_ms == null ? "–" : `${r.rtt_ms.toFixed(2)} ms`], ["Skills", r.skills.join(", ") || "–"]];
    return h("article", { class: "card robot", "aria-label": `robot ${r.name}` },
      h("header", {}, h("h3", {}, r.name),
        h("span", { class: `badge ${r.online ? "on" : "off"}` }, r.online ? "online" : "offline")),
      h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
  }));
}

/* ------------------------------------------------------------------ tasks */
function renderTaskList() {
  const list = document.getElementById("task-list");
  if (!state.tasks.length) {
    list.replaceChildren(h("li", { class: "empty" }, "No tasks yet: submit an instruction above."));
  } else {
    list.replaceChildren(...state.tasks.map(t => h("li", {},
      h("button", { type: "button", class: `task-item${t.id === state.selected ? " sel" : ""}`,
                    "aria-pressed": t.id === state.selected ? "true" : "false", onclick: () => selectTask(t.id) },
        h("span", { class: `badge st-${t.status}` }, t.status),
        h("span", { class: "instr" }, t.instruction),
        h("span", { class: "help" }, `${t.steps_done}/${t.steps} steps · ${fmtTime(t.created_at)}`)))));
  }
  if (!state.selected) replace("task-detail", empty("Select a task to see its plan."));
}

async function selectTask(id) {
  state.selected = id;
  renderTaskList();
  if (state.taskStream) state.taskStream.close();
  await refreshTask();
  const es = new EventSource(`/api/tasks/${encodeURIComponent(id)}/stream`);
  state.taskStream = es;
  let pending = false;
  es.addEventListener("task", () => {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; if (state.selected === id) refreshTask(); }, 150);
  });
  es.addEventListener("end", () => { es.close(); if (state.selected === id) refreshTask(); });
  es.addEventListener("error", () => es.close());
}

async function refreshTask() {
  const id = state.selected;
  try {
    const [t, hist] = await Promise.all([api(`/api/tasks/${encodeURIComponent(id)}`),
                                         api(`/api/history/${encodeURIComponent(id)}`)]);
    if (state.selected === id) renderTask(t, hist.entries);
  } catch (e) {
    replace("task-detail", empty(`Cannot load task ${id}: ${e.message}`));
  }
}

/* Retries, failures and replans from the task's history, newest last. */
function renderIncidents(entries) {
  const lines = (entries || []).filter(e => e.kind === "task.log" || (e.kind === "task.plan" && e.seq > 0) ||
    (e.kind === "task.step" && e.data.step && e.data.step.status === "failed"));
  const plans = lines.filter(e => e.kind === "task.plan").length;
  const shown = lines.filter(e => e.kind !== "task.plan" || plans > 1);
  if (!shown.length) return null;
  return h("section", { class: "incidents", "aria-labelledby": "h-incidents" },
    h("h4", { id: "h-incidents" }, "Failures, retries and replans"),
    h("ol", { class: "timeline" }, shown.map(e => h("li", { class: e.kind === "task.step" ? "err" : "" },
      h("span", { class: "mono" }, fmtTime(e.ts)), " ", entryText(e)))));
}

function renderTask(t, entries) {
  const plan = t.plan;
  const terminal = ["succeeded", "failed", "cancelled"].includes(t.status);
  const facts = [["Status", h("span", { class: `badge st-${t.status}`, "data-testid": "task-status" }, t.status)],
                 ["Planner", plan ? plan.planner || "–" : "–"],
                 ["Planner tokens", plan ? `${plan.prompt_tokens} prompt + ${plan.completion_tokens} completion` : "–"],
                 ["Replans", String(t.replans)], ["Created", fmtTime(t.created_at)],
                 ["Took", fmtDur(t.created_at, t.finished_at)]];
  if (t.reason) facts.push(["Reason", t.reason]);
  if (plan && plan.notes) facts.push(["Planner notes", plan.notes]);
  replace("task-detail",
    h("header", { class: "task-head" }, h("h3", {}, t.instruction),
      terminal ? null : h("button", { type: "button", class: "danger", onclick: () => cancelTask(t.id) }, "Cancel task")),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    renderDag(plan, `plan of task ${t.id}`),
    renderSteps(plan),
    renderIncidents(entries));
}

async function cancelTask(id) {
  try { const r = await api(`/api/tasks/${encodeURIComponent(id)}/cancel`, { method: "POST" });
        setStatus(r.cancelled ? "Task cancelled." : "The task had already ended."); }
  catch (e) { setStatus(`Cancel failed: ${e.message}`, true); }
}

function setStatus(text, error) {
  const el = document.getElementById("submit-status");
  el.textContent = text; el.classList.toggle("error", !!error);
}

document.getElementById("submit-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const input = document.getElementById("instruction");
  const text = input.value.trim();
  if (!text) { setStatus("Type an instruction first.", true); return; }
  const btn = document.getElementById("submit-btn");
  btn.disabled = true;
  try {
    const r = await api("/api/tasks", { method: "POST", body: JSON.stringify({ instruction: text }) });
    setStatus(`Task ${r.id} submitted.`);
    input.value = "";
    selectTask(r.id);
  } catch (e) { setStatus(`Not submitted: ${e.message}`, true); }
  finally { btn.disabled = false; }
});

/* ------------------------------------------------------------------ skills */
function skillCard(card, extra) {
  const props = (card.parameters && card.parameters.properties) || {};
  const required = new Set((card.parameters && card.parameters.required) || []);
  const params = Object.entries(props).map(([k, v]) => h("li", {}, h("code", {}, k),
    `: ${v.type || (v.enum ? "enum" : "any")}${required.has(k) ? "" : " (optional)"}`,
    v.enum ? h("span", { class: "help" }, ` — one of ${clip(v.enum.join(", "), 120)}`) : null));
  return h("details", { class: "card skill" },
    h("summary", {}, h("strong", {}, card.name), " ", h("span", { class: "help" }, card.description), extra || null),
    h("dl", {}, [["Version", card.version], ["Embodiments", (card.embodiments || []).join(", ") || "any"],
                 ["Timeout", `${card.timeout_s} s`], ["Preconditions", (card.preconditions || []).join("; ") || "–"],
                 ["Effects", (card.effects || []).join("; ") || "–"], ["Tags", (card.tags || []).join(", ") || "–"]]
      .map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    params.length ? h("ul", { class: "params", "aria-label": `parameters of ${card.name}` }, params) : h("p", { class: "help" }, "No parameters."));
}

async function loadSkills(query) {
  const q = query === undefined ? document.getElementById("skill-query").value.trim() : query;
  try {
    const v = await api(`/api/skills${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    replace("skills-connected", v.connected.length
      ? h("div", { class: "skill-list" }, v.connected.map(it => skillCard(it.card,
          h("span", { class: "robots" }, ` · on ${it.robots.join(", ")}`))))
      : empty("No robot has registered skills yet."));
    replace("skills-store", !v.store_configured
      ? empty("No skill store configured.", "Set dashboard.skill_store in the cloud config to browse a store file.")
      : (v.store.length ? h("div", { class: "skill-list" }, v.store.map(p => h("section", { class: "pkg" },
          h("h4", {}, `${p.name} ${p.version}`), p.skills.map(c => skillCard(c)))))
        : empty("The skill store is empty.", "Publish packages with `roboos skills publish`.")));
    if (!q) { replace("skill-results"); return; }
    replace("skill-results", h("h3", {}, `Results for “${q}” (${v.search_mode})`),
      v.results.length ? h("ol", { class: "results" }, v.results.map(r => h("li", {}, skillCard(r.card,
          h("span", { class: "robots" }, r.source === "store" ? ` store: ${r.package}` : ` on ${r.robots.join(", ")}`,
            ` · score ${r.score}`)))))
        : empty("No skill matches that search."));
  } catch (e) { replace("skills-connected", empty(`Cannot load skills: ${e.message}`)); }
}
document.getElementById("skill-search").addEventListener("submit", ev => { ev.preventDefault(); loadSkills(); });

/* ------------------------------------------------------------------ history + replay */
function loadHistoryTasks() {
  const sel = document.getElementById("history-task");
  const current = sel.value;
  if (!state.tasks.length) {
    sel.replaceChildren(h("option", { value: "" }, "no tasks"));
    sel.disabled = true;
    replace("history-body", empty("No tasks in the history yet."));
    return;
  }
  sel.disabled = false;
  const ids = state.tasks.map(t => t.id);
  sel.replaceChildren(...state.tasks.map(t => h("option", { value: t.id }, `${clip(t.instruction, 60)} — ${t.status}`)));
  sel.value = ids.includes(current) ? current : ids[0];
  const shown = state.tasks.find(t => t.id === sel.value);
  const live = shown && !["succeeded", "failed", "cancelled"].includes(shown.status);  // follow a running task
  if (sel.value !== current || !state.replay || (live && !state.replay.timer)) loadHistory(sel.value);
}
document.getElementById("history-task").addEventListener("change", ev => loadHistory(ev.target.value));

async function loadHistory(id) {
  if (state.replay && state.replay.timer) clearInterval(state.replay.timer);
  state.replay = null;
  try {
    const v = await api(`/api/history/${encodeURIComponent(id)}`);
    if (document.getElementById("history-task").value !== id) return;  // another task was picked meanwhile
    if (!v.enabled) { replace("history-body", empty("The history log is disabled (memory.history.enabled).")); return; }
    const entries = v.entries.filter(e => e.kind.startsWith("task."));
    if (!entries.length) { replace("history-body", empty("No history entries for this task yet.")); return; }
    state.replay = { id, entries, pos: entries.length, timer: null };
    renderReplay();
  } catch (e) { replace("history-body", empty(`Cannot load the history: ${e.message}`)); }
}

/* Rebuild the task as it was after entry `pos` by applying the logged events in order. */
function replayState(entries, pos) {
  let plan = null, status = "pending";
  for (const e of entries.slice(0, pos)) {
    const d = e.data || {};
    if (d.status) status = d.status;
    if (e.kind === "task.plan" && d.plan) plan = JSON.parse(JSON.stringify(d.plan));
    if (e.kind === "task.step" && d.step && plan) {
      const i = plan.steps.findIndex(st => st.id === d.step.id);
      if (i >= 0) plan.steps[i] = d.step; else plan.steps.push(d.step);
    }
  }
  return { plan, status };
}

function entryText(e) {
  const d = e.data || {};
  if (e.kind === "task.step" && d.step) return `${d.step.id} ${d.step.robot}.${d.step.skill}(${argText(d.step.args)}) → ${d.step.status}` +
    (d.step.error ? ` (${d.step.error.code}: ${d.step.error.message})` : "");
  if (e.kind === "task.plan" && d.plan) return `plan: ${d.plan.steps.length} steps by ${d.plan.planner}`;
  return d.message || d.status || e.kind;
}

function renderReplay() {
  const r = state.replay;
  const t0 = r.entries[0].ts;
  const { plan, status } = replayState(r.entries, r.pos);
  const slider = h("input", { type: "range", id: "replay-pos", min: "0", max: String(r.entries.length), value: String(r.pos),
                              "aria-valuetext": `event ${r.pos} of ${r.entries.length}` });
  slider.addEventListener("input", () => { r.pos = +slider.value; renderReplay(); });
  const play = h("button", { type: "button", id: "replay-play", "aria-pressed": r.timer ? "true" : "false",
                             onclick: togglePlay }, r.timer ? "Pause" : "Replay");
  replace("history-body",
    h("div", { class: "row controls" }, play, h("label", { for: "replay-pos" }, "Position"), slider,
      h("span", { class: "help", role: "status" }, `${r.pos}/${r.entries.length} events · task ${status}`)),
    renderDag(plan, `plan of task ${r.id} after ${r.pos} events`),
    h("ol", { class: "timeline", "aria-label": "task timeline" }, r.entries.map((e, i) =>
      h("li", { class: i < r.pos ? "past" : "future" },
        h("span", { class: "mono" }, `+${(e.ts - t0).toFixed(2)} s`), " ",
        h("span", { class: "kind" }, e.kind.replace("task.", "")), " ",
        e.robot ? h("span", { class: "robot-tag" }, e.robot) : null, " ", entryText(e)))));
}

function togglePlay() {
  const r = state.replay;
  if (r.timer) { clearInterval(r.timer); r.timer = null; renderReplay(); return; }
  if (r.pos >= r.entries.length) r.pos = 0;
  r.timer = setInterval(() => {
    r.pos += 1;
    if (r.pos >= r.entries.length) { r.pos = r.entries.length; clearInterval(r.timer); r.timer = null; }
    renderReplay();
  }, 250);
  renderReplay();
}

/* ------------------------------------------------------------------ cameras */
const MUJOCO_UP = "roboos up --edge-config configs/robots/mujoco_household.yaml --set scene=scenes/mujoco_household.yaml";

function streamKey(c) { return `${c.robot}/${c.camera}`; }

function cameraCaption(c) {
  const age = c.age_s < 1 ? "under 1 s ago" : `${c.age_s.toFixed(1)} s ago`;
  return `${c.robot} · ${c.camera} · ${c.width}×${c.height} · ${age}`
    + (c.stale ? " · stale" : "") + (c.online ? "" : " · robot offline");
}

function swapImage(img, url) {
  const next = new Image();
  next.onload = () => { img.src = next.src; };
  next.src = url;
}

function renderCameras(v) {
  const streams = v.streams.length
    ? h("div", { class: "camera-grid", "data-keys": v.streams.map(streamKey).join("|") },
        v.streams.map(c => h("figure", { class: "camera stream", "data-key": streamKey(c), "data-seq": String(c.seq) },
          h("img", { src: `${c.url}?seq=${c.seq}`, alt: `Camera ${c.camera} of robot ${c.robot}`,
                     width: String(c.width), height: String(c.height), "data-url": c.url }),
          h("figcaption", {}, cameraCaption(c)))))
    : empty("No robot streams a camera.", v.waiting.length
        ? `Waiting for the first frames from ${v.waiting.map(w => `${w.robot} (${w.cameras.join(", ")})`).join("; ")}.`
        : ["The default simulated robots have no camera. Robots with cameras (MuJoCo, ROS 2 with a camera topic) "
           + "stream frames at the edge's camera_stream_hz; to see some, run: ", h("code", {}, MUJOCO_UP)]);
  const world = v.views.map(c => h("figure", { class: "camera world" },
    h("img", { src: `${c.url}?t=${Date.now()}`, alt: c.title, "data-world": c.url, width: "640", height: "480" }),
    h("figcaption", {}, c.title)));
  replace("cameras", h("h3", {}, "Robot cameras"), streams, h("h3", {}, "World"), ...world);
}

async function loadCameras() {
  try { renderCameras(await api("/api/cameras")); }
  catch (e) { replace("cameras", empty(`Cannot load the cameras: ${e.message}`)); }
}

async function refreshCameras() {
  let v;
  try { v = await api("/api/cameras"); } catch (_e) { return; }  // the banner reports a lost cloud
  if (state.view !== "cameras") return;
  const grid = document.querySelector("#cameras .camera-grid");
  if ((grid ? grid.dataset.keys : "") !== v.streams.map(streamKey).join("|")) { renderCameras(v); return; }
  for (const c of v.streams) {
    const fig = [...document.querySelectorAll("#cameras figure.stream")].find(f => f.dataset.key === streamKey(c));
    if (!fig) continue;
    fig.querySelector("figcaption").textContent = cameraCaption(c);
    fig.classList.toggle("stale", c.stale);
    if (fig.dataset.seq !== String(c.seq)) { fig.dataset.seq = String(c.seq); swapImage(fig.querySelector("img"), `${c.url}?seq=${c.seq}`); }
  }
  document.querySelectorAll("#cameras img[data-world]").forEach(img => swapImage(img, `${img.dataset.world}?t=${Date.now()}`));
}

/* ------------------------------------------------------------------ channel */
function histogram(edges, robot, data) {
  const W = 520, H = 160, P = 28, n = data.counts.length, bw = (W - P) / n, max = Math.max(1, ...data.counts);
  const label = i => edges[i + 1] === null ? `≥${edges[i]}` : `${edges[i]}–${edges[i + 1]}`;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H + 30}`, class: "hist", role: "img",
                         "aria-label": `round-trip time histogram of ${robot}: ${data.count} samples, median ${data.p50_ms} ms` });
  data.counts.forEach((c, i) => {
    const bh = (H - 10) * c / max;
    const bar = s("rect", { x: P + i * bw + 2, y: H - bh, width: bw - 4, height: bh, class: "bar" });
    bar.append(s("title", {}, `${label(i)} ms: ${c}`));
    svg.append(bar);
    svg.append(s("text", { x: P + i * bw, y: H + 14, class: "axis", "text-anchor": "middle" }, edges[i]));  // bin lower edge
  });
  svg.append(s("text", { x: W - 2, y: H + 28, class: "axis", "text-anchor": "end" }, "ms"));
  svg.append(s("text", { x: 2, y: 12, class: "axis" }, String(max)));
  return svg;
}

function ms(v) { return v == null ? "–" : `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`; }

async function loadChannel() {
  try {
    const v = await api("/api/channel");
    const links = v.links.length ? h("div", { class: "table-wrap" }, h("table", {},
      h("caption", {}, `Robot links on ${v.endpoint}`),
      h("thead", {}, h("tr", {}, ["Robot", "Connected", "Last heard", "RTT", "Registrations"].map(t => h("th", { scope: "col" }, t)))),
      h("tbody", {}, v.links.map(l => h("tr", {}, h("th", { scope: "row" }, l.robot), h("td", {}, l.connected ? "yes" : "no"),
        h("td", {}, `${l.age_s.toFixed(2)} s ago`), h("td", {}, l.rtt_ms == null ? "–" : `${l.rtt_ms.toFixed(3)} ms`),
        h("td", {}, String(l.registrations)))))))
      : empty("No robot links yet.");
    const robots = Object.entries(v.rtt.robots);
    const hists = robots.length ? robots.map(([robot, d]) => h("figure", { class: "card" },
      h("figcaption", {}, h("strong", {}, robot), ` — ${d.count} samples · p50 ${ms(d.p50_ms)} · p90 ${ms(d.p90_ms)} · p99 ${ms(d.p99_ms)}`),
      histogram(v.rtt.edges_ms, robot, d)))
      : [empty("No round-trip samples yet.", "They come from heartbeat echoes, a few per second per robot.")];
    const stats = h("details", { class: "card" }, h("summary", {}, "Channel counters"),
      h("dl", { class: "facts" }, Object.entries(v.stats).map(([k, val]) => [h("dt", {}, k.replaceAll("_", " ")), h("dd", {}, String(val))])));
    replace("channel", links, h("h3", {}, "Link latency (heartbeat round trips)"), h("div", { class: "cards" }, ...hists), stats);
  } catch (e) { replace("channel", empty(`Cannot load the channel: ${e.message}`)); }
}

/* ------------------------------------------------------------------ start */
async function start() {
  try {
    const o = await api("/api/overview");
    state.overview = o;
    document.getElementById("cloud-meta").textContent = `cloud “${o.cloud}” · planner: ${o.planner} · edges: ${o.endpoint}`;
    const [robots, tasks] = await Promise.all([api("/api/robots"), api("/api/tasks")]);
    state.robots = robots; state.tasks = tasks;
  } catch (e) { banner(`Cannot reach the cloud API: ${e.message}`); }
  show(location.hash.slice(1) || "robots");
  connectEvents();
}
start();
