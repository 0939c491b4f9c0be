// sdmodels workbench: the page's logic. Talks only to this server's /api routes.
"use strict";

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};

// Everything the page knows; exposed for the end-to-end tests as window.workbench.
const state = {
  key: null, desc: null, values: {}, texts: {}, after: null, before: null,
  outputs: [], loops: [], selectedLoop: null, plots: {}, inFlight: false, pending: false,
  lastRequest: null, cursorTime: null,   // the time under the plots' cursor (for loop dominance)
  dominance: null,                       // the last run's loop dominance, when available
  editor: { timer: null, problems: [], checks: 0, saves: 0, saving: false, lastSave: null },
};
window.workbench = state;

const fmt = (v) => (Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0))
  ? v.toExponential(3) : String(+v.toPrecision(6));
const api = (path) => `/api/model/${encodeURIComponent(state.key)}${path}`;

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

async function call(path, options = {}) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.blob();
  if (!response.ok) {
    const err = new Error(data.error || `${response.status} ${response.statusText}`);
    err.data = data;
    throw err;
  }
  return { data, timing: response.headers.get("server-timing") };
}

const post = (path, body) => call(path, {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
});

// ---------------------------------------------------------------- parameters
function buildParams() {
  const box = $("#params");
  box.replaceChildren();
  for (const p of state.desc.parameters) {
    const slider = el("input", {
      type: "range", min: p.low, max: p.high, step: p.step, value: p.default,
      "aria-label": p.name, "data-param": p.name,
    });
    const field = el("input", { type: "text", value: fmt(p.default), "aria-label": `${p.name} value`,
      "data-field": p.name, title: "a number or an expression, e.g. 2*60" });
    slider.addEventListener("input", () => {
      setValue(p.name, +slider.value);
      requestRun();
    });
    field.addEventListener("change", () => {
      state.texts[p.name] = field.value;
      requestRun();
    });
    const row = el("div", { class: "param", "data-name": p.name.toLowerCase() },
      el("div", { class: "name" }, el("b", {}, p.name), el("span", { class: "units" }, p.units)),
      el("div", { class: "row" }, slider, field),
      el("div", { class: "source", title: p.source }, p.source || ""));
    box.append(row);
  }
}

function controls(name) {
  return [document.querySelector(`input[data-param="${CSS.escape(name)}"]`),
          document.querySelector(`input[data-field="${CSS.escape(name)}"]`)];
}

function setValue(name, value) {
  state.values[name] = value;
  delete state.texts[name];
  const [slider, field] = controls(name);
  const p = state.desc.parameters.find((q) => q.name === name);
  if (value > +slider.max) slider.max = value;
  if (value < +slider.min) slider.min = value;
  slider.value = value;
  field.value = fmt(value);
  field.classList.remove("invalid");
  field.closest(".param").classList.toggle("changed", value !== p.default);
}

function applyValues(values) {
  for (const p of state.desc.parameters) setValue(p.name, p.name in values ? values[p.name] : p.default);
}

$("#param-filter").addEventListener("input", (e) => {
  const q = e.target.value.toLowerCase();
  for (const row of document.querySelectorAll(".param")) row.hidden = !row.dataset.name.includes(q);
});

// ---------------------------------------------------------------- runs
function payload() {
  const values = { ...state.values };
  for (const [name, text] of Object.entries(state.texts)) values[name] = text;
  return { values, outputs: state.outputs };
}

async function requestRun() {
  if (state.inFlight) { state.pending = true; return; }
  state.inFlight = true;
  const body = payload();
  state.lastRequest = body;
  const began = performance.now();
  try {
    const { data, timing } = await post(api("/run"), body);
    for (const [name, value] of Object.entries(data.values)) {
      if (name in state.texts) setValue(name, value);
    }
    state.after = data;
    showError("");
    drawPlots();
    requestDominance();
    const server = timing ? timing.split("dur=")[1] : "?";
    $("#status").textContent = `${(+server).toFixed(1)} ms`;
    $("#status").title = `simulation ${data.run_ms.toFixed(1)} ms, server (request to response) ` +
      `${(+server).toFixed(1)} ms, round trip in the page ${(performance.now() - began).toFixed(0)} ms`;
  } catch (err) {
    showError(err.message);
    for (const name of Object.keys(state.texts)) {
      if (err.message.includes(`'${name}'`)) controls(name)[1].classList.add("invalid");
    }
  } finally {
    state.inFlight = false;
    if (state.pending) { state.pending = false; requestRun(); }
  }
}

function pinBefore() {
  if (!state.after) return;
  state.before = { ...state.after, values: { ...state.values } };
  drawPlots();
}

// ---------------------------------------------------------------- plots
function columnsOf(run, output) {
  if (!run) return [];
  return Object.keys(run.series).filter((c) => c === output || c.startsWith(output + "["));
}

// axis ticks stay short: 1.2k, 3.4M, 2.3G
function tick(v) {
  if (v === null) return "";
  const a = Math.abs(v);
  for (const [from, f, s] of [[1e12, 1e12, "T"], [1e9, 1e9, "G"], [1e6, 1e6, "M"], [1e4, 1e3, "k"]]) {
    if (a >= from) return `${+(v / f).toPrecision(3)}${s}`;
  }
  return a !== 0 && a < 1e-3 ? v.toExponential(1) : String(+v.toPrecision(4));
}

// A flat series gets a band of +-10 % around its value, not uPlot's 0..100 nor a zoom into
// rounding: a change under 0.1 % of the value (0.05 -> 0.05002 s) or a residue under 1e-12
// (a backlog of 1e-15 requests) would fill the plot with four identical axis labels.
function flatRange(u, min, max) {
  if (min === null || max === null) return [0, 1];
  const size = Math.max(Math.abs(min), Math.abs(max));
  if (size < 1e-12 || max - min <= 1e-3 * size) {
    const mid = size < 1e-12 ? 0 : (min + max) / 2;
    const pad = Math.abs(mid) * 0.1 || 1;
    return [mid - pad, mid + pad];
  }
  return uPlot.rangeNum(min, max, 0.1, true);
}

function drawPlots() {
  const box = $("#plots");
  const columns = Math.max(1, Math.min(state.outputs.length, Math.floor(box.clientWidth / 270)));
  box.style.gridTemplateColumns = `repeat(${columns}, 1fr)`;
  const width = Math.max(260, Math.floor((box.clientWidth - 6 * (columns - 1)) / columns) - 8);
  const height = columns === 1 && state.outputs.length <= 2 ? 260 : 150;
  for (const output of state.outputs) {
    const after = columnsOf(state.after, output);
    const sameTimes = state.before && state.after &&
      state.before.times.length === state.after.times.length;
    const before = sameTimes ? columnsOf(state.before, output) : [];
    const data = [state.after.times,
      ...before.map((c) => state.before.series[c]), ...after.map((c) => state.after.series[c])];
    const key = `${output}|${before.length}|${after.length}`;
    let plot = state.plots[output];
    if (!plot || plot.key !== key) {
      if (plot) plot.u.destroy();
      const holder = document.querySelector(`.plot[data-output="${CSS.escape(output)}"]`) ||
        box.appendChild(el("div", { class: "plot", "data-output": output }, el("h3", {}, output)));
      const short = (c) => (c === output ? "" : c.slice(output.length) + " ");
      const shown = (u, v) => (v == null ? "" : String(+v.toPrecision(4)));
      const series = [{ label: state.desc.time_units, value: shown },
        ...before.map((c) => ({ label: `${short(c)}before`, stroke: "#95a5a6", dash: [5, 4], width: 1.5,
          value: shown })),
        ...after.map((c) => ({ label: `${short(c)}after`, stroke: "#d35400", width: 2,
          value: shown }))];
      const u = new uPlot({ width, height, series, legend: { show: true, live: true },
        cursor: { sync: { key: "sdm-time" } },          // one time under the cursor, all plots
        hooks: { setCursor: [(p) => { state.cursorTime = p.cursor.idx == null ? null
          : p.data[0][p.cursor.idx]; colourDominant(); }] },
        scales: { x: { time: false }, y: { range: flatRange } },
        axes: [{ label: state.desc.time_units, size: 36 },
          { size: 58, values: (u, splits) => splits.map(tick) }] }, data, holder);
      plot = state.plots[output] = { u, key };
    } else {
      plot.u.setData(data);
    }
  }
  for (const [output, plot] of Object.entries(state.plots)) {
    if (!state.outputs.includes(output)) {
      plot.u.destroy();
      delete state.plots[output];
      document.querySelector(`.plot[data-output="${CSS.escape(output)}"]`)?.remove();
    }
  }
}

let resizeTimer = null;
window.addEventListener("resize", () => {      // plots are sized in pixels: redraw them
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (!state.after) return;
    for (const plot of Object.values(state.plots)) plot.u.destroy();
    state.plots = {};
    $("#plots").replaceChildren();
    drawPlots();
  }, 150);
});

function buildOutputPicker() {
  const box = $("#outputs");
  box.replaceChildren();
  for (const name of state.desc.outputs) {
    const check = el("input", { type: "checkbox", value: name });
    check.checked = state.outputs.includes(name);
    check.addEventListener("change", () => {
      state.outputs = state.desc.outputs.filter((o) =>
        document.querySelector(`#outputs input[value="${CSS.escape(o)}"]`).checked);
      requestRun();
    });
    box.append(el("label", {}, check, " " + name), el("br"));
  }
}

// ---------------------------------------------------------------- loops and diagram
function loopParts(loop) {
  return { edges: new Set(loop.edges.map(([u, v]) => `${u}->${v}`)), nodes: new Set(loop.nodes) };
}

function highlight(loopId) {
  const svg = $("#diagram svg");
  if (!svg) return;
  const loop = state.loops.find((l) => l.id === loopId);
  const parts = loop ? loopParts(loop) : null;
  for (const g of svg.querySelectorAll("g.edge, g.node")) {
    const title = g.querySelector("title")?.textContent || "";
    const on = parts && (g.classList.contains("edge") ? parts.edges.has(title)
      : parts.nodes.has(title) || title === `loop:${loopId}`);
    g.classList.toggle("hl", !!on);
    g.classList.toggle("dim", !!parts && !on);
  }
  colourDominant();
  for (const row of document.querySelectorAll("#loops tbody tr")) {
    row.classList.toggle("selected", row.dataset.loop === state.selectedLoop);
    row.classList.toggle("hover", row.dataset.loop === loopId);
  }
  const q = state.selectedLoop ? `?loop=${encodeURIComponent(state.selectedLoop)}` : "";
  $("#export-svg").href = api(`/diagram.svg${q}`);
  $("#export-png").href = api(`/diagram.png${q}`);
}

function zoomDiagram(fit) {
  const svg = $("#diagram svg");
  if (!svg) return;
  svg.classList.toggle("natural", !fit);
  $("#zoom").textContent = fit ? "Actual size" : "Fit";
}

function selectLoop(id) {
  state.selectedLoop = state.selectedLoop === id ? null : id;
  highlight(state.selectedLoop);
}

function buildLoops() {
  const body = $("#loops tbody");
  body.replaceChildren();
  // once loop dominance gave importances, the loops that mattered most come first
  const rank = (l) => (l.importance === null || l.importance === undefined ? -1 : l.importance);
  const rows = state.loops.some((l) => rank(l) >= 0)
    ? [...state.loops].sort((a, b) => rank(b) - rank(a)) : state.loops;
  for (const l of rows) {
    const delay = l.delay === null ? "" : (typeof l.delay === "number" ? fmt(l.delay) : l.delay);
    const kind = { R: "reinforcing", B: "balancing", U: "unknown" }[l.polarity];
    const row = el("tr", { "data-loop": l.id, title: l.variables.join(" \u2192 ") },
      el("td", { class: l.polarity }, l.id), el("td", {}, l.name || ""),
      el("td", { class: l.polarity }, `${l.polarity} ${kind}`), el("td", {}, delay),
      el("td", { class: "muted" }, l.importance === null ? "\u2013" : fmt(l.importance)));
    row.addEventListener("mouseenter", () => highlight(l.id));
    row.addEventListener("mouseleave", () => highlight(state.selectedLoop));
    row.addEventListener("click", () => selectLoop(l.id));
    body.append(row);
  }
}

async function loadDiagram() {
  const response = await fetch(api("/diagram.svg"));
  const box = $("#diagram");
  if (!response.ok) { box.textContent = (await response.json()).error; return; }
  box.innerHTML = await response.text();   // Graphviz's own SVG, from this server
  for (const g of box.querySelectorAll("g.node")) {
    const title = g.querySelector("title")?.textContent || "";
    if (!title.startsWith("loop:")) continue;
    const id = title.slice(5);
    g.dataset.loop = id;
    g.addEventListener("mouseenter", () => highlight(id));
    g.addEventListener("mouseleave", () => highlight(state.selectedLoop));
    g.addEventListener("click", () => selectLoop(id));
  }
  zoomDiagram(true);
  highlight(state.selectedLoop);
}

// ---------------------------------------------------------------- sweep
function buildSweepForm() {
  const params = state.desc.parameters.map((p) => p.name);
  const fill = (select, names, keep = []) => {
    select.replaceChildren(...keep, ...names.map((n) => el("option", { value: n }, n)));
  };
  fill($("#sweep-output"), state.desc.outputs);
  $("#sweep-output").value = state.desc.key_outputs[0];
  fill($("#sweep-x"), params);
  fill($("#sweep-y"), params, [el("option", { value: "" }, "(none)")]);
  const range = (axis) => {
    const p = state.desc.parameters.find((q) => q.name === $(`#sweep-${axis}`).value);
    if (!p) return;
    $(`#sweep-${axis}-from`).value = fmt(p.low);
    $(`#sweep-${axis}-to`).value = fmt(p.high);
  };
  $("#sweep-x").onchange = () => range("x");
  $("#sweep-y").onchange = () => range("y");
  range("x");
}

function grid(from, to, n) {
  // a blank field is no 0 (Number("") is): it swept 0 .. 0 twelve times
  if ([from, to, n].some((v) => String(v).trim() === "")) {
    throw new Error("give the sweep range: a number in 'from', 'to' and 'steps'");
  }
  const a = +from, b = +to, k = Math.max(1, Math.floor(+n));
  if (![a, b, k].every(Number.isFinite)) throw new Error("sweep ranges must be numbers");
  return k === 1 ? [a] : Array.from({ length: k }, (_, i) => +(a + (b - a) * i / (k - 1)).toPrecision(6));
}

$("#sweep-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("#sweep-result");
  try {
    const y = $("#sweep-y").value;
    const body = { output: $("#sweep-output").value, x: $("#sweep-x").value,
      xs: grid($("#sweep-x-from").value, $("#sweep-x-to").value, $("#sweep-x-n").value),
      y: y || null, ys: y ? grid($("#sweep-y-from").value, $("#sweep-y-to").value, $("#sweep-y-n").value) : [],
      values: payload().values };
    out.textContent = "running...";
    const { data } = await post(api("/sweep"), body);
    showError("");
    drawPhase(data);
  } catch (err) {
    out.textContent = "";
    showError(err.message);
  }
});

function drawPhase(data) {
  const table = el("table", { class: "phase" });
  const rows = data.y ? data.ys.map((v, i) => [v, i]).reverse() : [[null, 0]];
  for (const [yv, i] of rows) {
    const tr = el("tr", {}, el("th", {}, yv === null ? "" : fmt(yv)));
    data.labels[i].forEach((label, j) => tr.append(el("td", {
      class: `lab-${label}`, title: `${data.x} = ${fmt(data.xs[j])}` +
        (data.y ? `, ${data.y} = ${fmt(yv)}` : "") + `: ${label}`,
    }, label[0].toUpperCase())));
    table.append(tr);
  }
  table.append(el("tr", {}, el("th", {}, ""), ...data.xs.map((x) => el("th", {}, fmt(x)))));
  const legend = el("div", { class: "legend" }, ...Object.entries(data.counts).map(([k, n]) =>
    el("span", { class: `lab-${k}` }, `${k}: ${n}`)));
  const caption = el("p", {}, `${data.output}: behaviour over ${data.x} (x)` +
    (data.y ? ` and ${data.y} (y, upwards)` : "") +
    (data.trigger ? `; trigger ${fmt(data.trigger[0])}\u2013${fmt(data.trigger[1])}` : ""));
  $("#sweep-result").replaceChildren(caption, table, legend);
}

// ---------------------------------------------------------------- export
// the answer of a request saved as a file; the button says "writing..." until it is there
async function download(button, name, request) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = "writing...";
  try {
    const { data } = await request();
    const link = el("a", { href: URL.createObjectURL(data), download: name });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

$("#export-csv").addEventListener("click", (e) => download(e.target, `${state.key}-runs.csv`,
  () => {
    const runs = { after: payload().values };
    if (state.before) runs.before = state.before.values;
    return post(api("/export.csv"), { runs });
  }));
// seconds to minutes (every loop scored over a run): the page goes on meanwhile
$("#export-postmortem").addEventListener("click", (e) => download(e.target,
  `${state.key}-postmortem.html`, () => post(api("/postmortem.html"), { values: payload().values })));
$("#export-checklist").addEventListener("click", (e) => download(e.target,
  `${state.key}-checklist.html`, () => call(api("/checklist.html"))));

// ---------------------------------------------------------------- model and scenario
function setupControls(outputs) {
  state.outputs = outputs;
  state.values = {};
  state.texts = {};
  $("#scenario").replaceChildren(el("option", { value: "" }, "(defaults)"),
    ...state.desc.scenarios.map((s) => el("option", { value: s.name, title: s.doc || "" }, s.name)));
  buildParams();
  applyValues({});
  buildOutputPicker();
  buildSweepForm();
  $("#dominance-control").hidden = !state.desc.dominance;
}

function loadLoops() {
  state.dominance = null;
  return call(api("/loops")).then(({ data }) => {
    state.loops = data.loops;
    buildLoops();
    requestDominance();
    return loadDiagram();
  }).catch((err) => showError(err.message));
}

async function openModel(key) {
  state.key = key;
  state.before = state.after = null;
  state.selectedLoop = null;
  state.loops = [];
  $("#loops tbody").replaceChildren();
  $("#diagram").replaceChildren(el("p", { class: "muted" }, "finding loops, drawing..."));
  $("#sweep-result").replaceChildren();
  for (const plot of Object.values(state.plots)) plot.u.destroy();
  state.plots = {};
  $("#plots").replaceChildren();
  $("#status").textContent = `opening ${key}...`;
  $("#editor-panel").hidden = true;
  try {
    state.desc = (await call(api(""))).data;
  } catch (err) {
    showError(err.message);
    $("#status").textContent = "no model";
    $("#diagram").replaceChildren(el("p", { class: "muted" }, "no model to draw: " +
      (key === state.descriptionKey ? "mend the description below and save" : "it did not open")));
    if (key === state.descriptionKey) {          // a description that does not compose:
      openEditor().then(checkDescription);       // show it, with its problems, to mend it
    }
    return;
  }
  document.title = `${state.desc.title}: sdmodels workbench`;
  setupControls([...state.desc.key_outputs]);
  $("#export-checklist").hidden = !state.desc.description;
  if (state.desc.description) openEditor().catch((err) => showError(err.message));
  await requestRun();
  pinBefore();
  loadLoops();
}

$("#scenario").addEventListener("change", async (e) => {
  const s = state.desc.scenarios.find((x) => x.name === e.target.value);
  applyValues(s ? s.values : {});
  await requestRun();
  if (s && s.skipped.length) {      // after the run, which clears the message box
    showError(`scenario '${s.name}' also sets ${s.skipped.join(", ")}, which the page has no ` +
      `slider for (arrays): these curves leave it out; sdm run --scenario '${s.name}' applies it`);
  }
});
$("#reset").addEventListener("click", () => { $("#scenario").value = ""; applyValues({}); requestRun(); });
$("#pin").addEventListener("click", pinBefore);
$("#zoom").addEventListener("click", () => zoomDiagram($("#diagram svg")?.classList.contains("natural")));
$("#model").addEventListener("change", (e) => openModel(e.target.value));

// every script of the page has run by DOMContentLoaded (editor.js comes after this one)
document.addEventListener("DOMContentLoaded", async function start() {
  const { data } = await call("/api/models");
  $("#model").replaceChildren(...data.models.map((m) => el("option", { value: m }, m)));
  $("#model").value = data.first;
  state.descriptionKey = data.description;
  await openModel(data.first);
});
