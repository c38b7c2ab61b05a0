/* Plan DAG rendering (SVG) and DOM helpers shared by the views. No dependencies. */
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function argText(args) {
  return Object.entries(args || {}).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
}

function clip(text, n) { text = String(text); return text.length > n ? text.slice(0, n - 1) + "…" : text; }

/* Layered layout: a step's column is the longest dependency chain before it. */
function layoutDag(steps) {
  const byId = new Map(steps.map(st => [st.id, st]));
  const depth = new Map();
  const visit = (st, seen) => {
    if (depth.has(st.id)) return depth.get(st.id);
    if (seen.has(st.id)) return 0;
    seen.add(st.id);
    let d = 0;
    for (const dep of st.depends_on || []) if (byId.has(dep)) d = Math.max(d, visit(byId.get(dep), seen) + 1);
    depth.set(st.id, d);
    return d;
  };
  steps.forEach(st => visit(st, new Set()));
  const cols = [];
  steps.forEach(st => { const d = depth.get(st.id); (cols[d] = cols[d] || []).push(st); });
  const pos = new Map();
  cols.forEach((col, c) => col.forEach((st, r) => pos.set(st.id, { c, r })));
  return { pos, cols: cols.length, rows: Math.max(1, ...cols.map(c => c.length)) };
}

/* An SVG picture of the plan: one box per step coloured by status, arrows for dependencies. */
function renderDag(plan, title) {
  const steps = (plan && plan.steps) || [];
  if (!steps.length) return h("p", { class: "empty" }, "No plan yet.");
  const W = 170, H = 58, GX = 46, GY = 16, P = 8;
  const { pos, cols, rows } = layoutDag(steps);
  const width = P * 2 + cols * W + (cols - 1) * GX, height = P * 2 + rows * H + (rows - 1) * GY;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "dag",
                         "aria-label": title || `plan with ${steps.length} steps` });
  svg.append(s("title", {}, title || "plan DAG"));
  const defs = s("defs", {});
  const marker = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7",
                                markerHeight: "7", orient: "auto-start-reverse" });
  marker.append(s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8c959f" }));
  defs.append(marker);
  svg.append(defs);
  const xy = id => { const p = pos.get(id); return [P + p.c * (W + GX), P + p.r * (H + GY)]; };
  for (const st of steps) {
    for (const dep of st.depends_on || []) {
      if (!pos.has(dep)) continue;
      const [x1, y1] = xy(dep), [x2, y2] = xy(st.id);
      const a = [x1 + W, y1 + H / 2], b = [x2 - 2, y2 + H / 2], m = (a[0] + b[0]) / 2;
      svg.append(s("path", { d: `M ${a[0]} ${a[1]} C ${m} ${a[1]}, ${m} ${b[1]}, ${b[0]} ${b[1]}`,
                             class: "edge", "marker-end": "url(#arrow)" }));
    }
  }
  for (const st of steps) {
    const [x, y] = xy(st.id);
    const g = s("g", { class: `node st-${st.status}`, transform: `translate(${x},${y})`, "data-step": st.id });
    g.append(s("title", {}, `${st.id}: ${st.robot}.${st.skill}(${argText(st.args)}) — ${st.status}` +
                           (st.error ? ` — ${st.error.code}: ${st.error.message}` : "")));
    g.append(s("rect", { width: W, height: H, rx: 7 }));
    g.append(s("text", { x: 8, y: 17, class: "t1" }, clip(`${st.id} · ${st.skill}`, 24)));
    g.append(s("text", { x: 8, y: 33, class: "t2" }, clip(`${st.robot} ${argText(st.args)}`, 26)));
    g.append(s("text", { x: 8, y: 49, class: "t3" }, st.status + (st.attempts > 1 ? ` ×${st.attempts}` : "")));
    svg.append(g);
  }
  return h("div", { class: "dag-wrap", tabindex: "0", role: "group", "aria-label": "plan graph, scrollable" }, svg);
}

function fmtTime(ts) { return ts ? new Date(ts * 1000).toLocaleTimeString() : "–"; }
function fmtDur(a, b) { return a && b ? `${(b - a).toFixed(2)} s` : (a ? "running" : "–"); }

/* The step table: state, robot, skill, arguments, timing, errors. */
function renderSteps(plan) {
  const steps = (plan && plan.steps) || [];
  if (!steps.length) return null;
  const table = h("table", { class: "steps" },
    h("caption", {}, "Plan steps"),
    h("thead", {}, h("tr", {}, ["Step", "Robot", "Skill", "Arguments", "After", "State", "Started", "Took", "Error"]
      .map(t => h("th", { scope: "col" }, t)))));
  const body = h("tbody", {});
  for (const st of steps) {
    body.append(h("tr", { class: `st-${st.status}` },
      h("th", { scope: "row" }, st.id), h("td", {}, st.robot), h("td", {}, st.skill),
      h("td", { class: "mono" }, argText(st.args) || "–"), h("td", {}, (st.depends_on || []).join(", ") || "–"),
      h("td", {}, h("span", { class: `badge st-${st.status}` }, st.status + (st.attempts > 1 ? ` (${st.attempts} tries)` : ""))),
      h("td", {}, fmtTime(st.started_at)), h("td", {}, fmtDur(st.started_at, st.finished_at)),
      h("td", { class: "err" }, st.error ? `${st.error.code}: ${st.error.message}` : "")));
  }
  table.append(body);
  return h("div", { class: "table-wrap" }, table);
}
