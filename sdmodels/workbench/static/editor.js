// sdmodels workbench: loop dominance colouring and the system description editor.
// Loaded after app.js, whose helpers ($, el, call, post, api, state, ...) it uses.
"use strict";

// ---------------------------------------------------------------- loop dominance
// Shown only when the server's sdmodels.analysis has a dominance function (desc.dominance).
let dominanceTimer = null;
function requestDominance() {
  if (!state.desc?.dominance || !$("#dominance-toggle").checked) return;
  clearTimeout(dominanceTimer);          // after the slider rests: it costs more than a run
  dominanceTimer = setTimeout(async () => {
    try {
      const { data } = await post(api("/dominance"), { values: payload().values });
      state.dominance = data;
      for (const l of state.loops) l.importance = data.importance[l.id] ?? null;
      buildLoops();
      highlight(state.selectedLoop);
    } catch (err) { showError(err.message); }
  }, 250);
}

function dominantAt(t) {
  const d = state.dominance;
  if (!d || !d.times.length) return null;
  let i = d.times.length - 1;
  if (t !== null) { i = d.times.findIndex((x) => x > t) - 1; if (i < 0) i = t < d.times[0] ? 0 : d.times.length - 1; }
  return d.dominant[i];
}

function colourDominant() {
  const svg = $("#diagram svg");
  const on = $("#dominance-toggle").checked && state.dominance;
  const id = on ? dominantAt(state.cursorTime) : null;
  const loop = state.loops.find((l) => l.id === id);
  const parts = loop ? loopParts(loop) : null;
  $("#dominant-now").textContent = loop ? `(${loop.id}${loop.name ? " " + loop.name : ""})` : "";
  if (!svg) return;
  for (const g of svg.querySelectorAll("g.edge")) {
    const title = g.querySelector("title")?.textContent || "";
    const lit = !!parts && parts.edges.has(title);
    g.classList.toggle("dominant", lit);
    for (const p of ["R", "B", "U"]) g.classList.toggle(p, lit && loop.polarity === p);
  }
}
$("#dominance-toggle").addEventListener("change", () => {
  if ($("#dominance-toggle").checked) requestDominance(); else colourDominant();
});

// ---------------------------------------------------------------- system description editor
// The page edits only the description the server was started with (no path is ever sent).
function drawGutter() {
  const src = $("#source");
  const bad = new Set(state.editor.problems.map((p) => p.line));
  const n = src.value.split("\n").length;
  $("#gutter").replaceChildren(...Array.from({ length: n }, (_, i) =>
    el("span", { class: bad.has(i + 1) ? "bad" : "", "data-line": i + 1 }, `${i + 1}`)));
  $("#gutter").scrollTop = src.scrollTop;
}

function goToLine(line, column) {
  const src = $("#source");
  const lines = src.value.split("\n");
  const at = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(0, column - 1);
  src.focus();
  src.setSelectionRange(at, at);
}

function showProblems(problems, saved) {
  state.editor.problems = problems;
  $("#problems").replaceChildren(...problems.map((p) => {
    const item = el("li", { "data-line": p.line },
      el("b", {}, `line ${p.line}, column ${p.column}`), `: ${p.path}: ${p.message}`);
    item.addEventListener("click", () => goToLine(p.line, p.column));
    return item;
  }));
  $("#source").classList.toggle("invalid", problems.length > 0);
  const status = $("#editor-status");
  status.className = problems.length ? "bad" : "ok";
  status.textContent = problems.length ? `${problems.length} problem${problems.length > 1 ? "s" : ""}`
    : (saved || "valid");
  drawGutter();
}

async function checkDescription() {
  const check = ++state.editor.checks;
  try {
    const { data } = await post(api("/validate"), { text: $("#source").value });
    if (check === state.editor.checks) showProblems(data.problems);
  } catch (err) { showError(err.message); }
}

async function saveDescription() {
  clearTimeout(state.editor.timer);
  if (state.editor.saving) return;
  state.editor.saving = true;
  state.editor.checks++;                 // a check in flight is older than this save
  $("#editor-status").textContent = "saving, rebuilding...";
  const began = performance.now();
  try {
    const { data, timing } = await post(api("/description"),
      { text: $("#source").value, outputs: state.outputs });
    const server = timing ? +timing.split("dur=")[1] : NaN;
    state.editor.lastSave = { server_ms: server, page_ms: performance.now() - began };
    showError("");
    state.desc = data.model;
    const kept = state.outputs.filter((o) => data.model.outputs.includes(o));
    setupControls(kept.length ? kept : [...data.model.key_outputs]);
    state.after = data.run;               // "before" stays: the model as it was
    drawPlots();
    if (!state.before) pinBefore();
    state.editor.saves++;
    showProblems([], `saved ${data.saved}; new curves in ${server.toFixed(0)} ms`);
    loadLoops();
  } catch (err) {
    if (err.data?.problems) showProblems(err.data.problems);
    else showError(err.message);
    $("#editor-status").textContent += " (not saved)";
  } finally {
    state.editor.saving = false;
  }
}

async function openEditor() {
  const { data } = await call(api("/description"));
  $("#editor-name").textContent = data.name;
  $("#source").value = data.text;
  $("#editor-panel").hidden = false;
  showProblems([]);
}

$("#source").addEventListener("input", () => {
  drawGutter();
  $("#editor-status").textContent = "edited";
  clearTimeout(state.editor.timer);
  state.editor.timer = setTimeout(checkDescription, 300);    // validated as you type
});
$("#source").addEventListener("scroll", () => { $("#gutter").scrollTop = $("#source").scrollTop; });
$("#source").addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); saveDescription(); }
  if (e.key === "Tab") { e.preventDefault(); document.execCommand("insertText", false, "  "); }
});
$("#save").addEventListener("click", saveDescription);

