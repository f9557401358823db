// app.js — the page: a drawing pad, the test digits, the result panel, and a
// self-test mode (?selftest=1) that writes its results into <pre id="selftest"> for
// crates/shrink-wasm/tests/web.rs.

import { Shrink, softmax } from "./shrink.js";
import { SIDE, canvasGrey, toMnist, inkExtent, parseDigits, paintDigit } from "./mnist.js";

/** Predictions timed per shown result (the mean is shown). */
const TIMING_RUNS = 50;
/** Predictions timed in self-test mode. */
const SELFTEST_RUNS = 1000;

// When the page says "not sure" instead of naming a digit. A LeNet-5 has only ten
// answers and its softmax is confident on anything, so these are checked on the input
// itself before its probabilities are believed.
/** A drawing whose ink spans less than this share of the pad (both ways) is a dot. */
const MIN_EXTENT = 0.2;
/** Mean grey level of the 28×28 input above which it is a blot: MNIST's 10 000 test
 * digits reach at most 0.33 (median 0.13). */
const MAX_INK = 0.35;
/** Below this top probability the page says it is not sure. */
const MIN_CONFIDENCE = 0.8;

/** Metadata keys `shrink compress` / `shrink eval --record` write into a .shrk file. */
const META = { error: "test_error", examples: "test_examples", data: "test_data" };

const params = new URLSearchParams(location.search);
const selftest = params.has("selftest");
const $ = (id) => document.getElementById(id);

let shrink = null; // Shrink, once the module is loaded
let ready = false; // a usable model is loaded
let digits = []; // [{label, index, pixels}]
let modelFileBytes = 0; // size of the loaded .shrk file

const grouped = (n) => n.toLocaleString("en-US").replace(/,/g, "\u2009");
const bytes = (n) => `${grouped(n)} bytes`;
const argmax = (v) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The panel about the loaded file, every value "–" (no model). */
function clearAbout(summary) {
  for (const id of ["model-name", "accuracy", "dense-bytes", "model-bytes", "ratio", "memory-bytes"]) {
    $(id).textContent = "–";
  }
  $("about-summary").textContent = summary;
  $("layers").tBodies[0].replaceChildren();
}

/** Whether a usable model is loaded; without one, nothing invites drawing or clicking. */
function setReady(on, reason = "") {
  ready = on;
  pad.classList.toggle("off", !on);
  pad.setAttribute("aria-disabled", String(!on));
  $("clear").disabled = !on;
  $("pad-hint").textContent = on ? "mouse, pen or finger" : "no model loaded";
  document.querySelectorAll("#digits button").forEach((b) => (b.disabled = !on));
  if (!on) {
    resetResult(reason);
    $("time").textContent = "–";
  }
}

/**
 * Names people use for a file's weight tensors, in file (= model) order: 4-D kernels are
 * conv1, conv2 …, matrices fc1, fc2 … (as `shrink viz` names them).
 */
function layerNames(tensors) {
  let [conv, fc] = [0, 0];
  return tensors.map((t) => {
    if (t.shape.length === 4) return `conv${++conv}`;
    if (t.shape.length === 2) return `fc${++fc}`;
    return t.name;
  });
}

/** Fill the panel from the file itself: the module's `info()` (shrink info's numbers). */
function showAbout(name, info) {
  $("model-name").textContent = info.name ? `${info.name} (${name})` : name;
  $("dense-bytes").textContent = bytes(info.dense_bytes);
  $("model-bytes").textContent = bytes(info.file_bytes);
  const ratio = info.dense_bytes / info.file_bytes;
  $("ratio").textContent = `${ratio.toFixed(1)}×`;
  const meta = info.meta ?? {};
  const error = Number.parseFloat(meta[META.error]);
  let accuracy = null;
  if (Number.isFinite(error)) {
    accuracy = 100 * (1 - error);
    const on = meta[META.examples] ? `${grouped(Number(meta[META.examples]))} ` : "";
    const data = meta[META.data] ?? "the";
    $("accuracy").textContent = `${accuracy.toFixed(2)}%`;
    $("accuracy").append(
      Object.assign(document.createElement("small"), {
        textContent: ` on ${on}${data} test images, measured on this file`,
      }),
    );
  } else {
    $("accuracy").textContent = "not recorded in this file";
  }
  const weights = info.tensors.filter((t) => t.shape.length >= 2);
  const names = layerNames(weights);
  $("layers").tBodies[0].replaceChildren(
    ...weights.map((t, i) => {
      const row = document.createElement("tr");
      const kept = `${((100 * t.kept) / Math.max(1, t.numel)).toFixed(1)}%`;
      for (const text of [names[i], grouped(t.numel), kept, grouped(t.bytes)]) {
        row.append(Object.assign(document.createElement("td"), { textContent: text }));
      }
      row.cells[0].title = t.name;
      return row;
    }),
  );
  const kept = weights.reduce((a, t) => a + t.kept, 0);
  const all = weights.reduce((a, t) => a + t.numel, 0);
  $("about-summary").textContent =
    `${info.name || name}, ${ratio.toFixed(1)}× smaller than its float32 weights ` +
    `(${bytes(info.dense_bytes)} → ${bytes(info.file_bytes)}): pruning kept ` +
    `${((100 * kept) / Math.max(1, all)).toFixed(1)}% of the weights` +
    (accuracy === null ? "." : `, and the file scores ${accuracy.toFixed(2)}% on the MNIST test set.`);
}

/** Load a .shrk file's bytes into the module; throws an Error that names the file. */
function useModel(name, data) {
  setReady(false);
  clearAbout("Loading…");
  modelFileBytes = data.length;
  try {
    shrink.loadModel(data);
  } catch (e) {
    throw new Error(`Could not load model ${name}: ${e.message}`);
  }
  if (shrink.inputLen !== SIDE * SIDE) {
    throw new Error(
      `Model ${name} takes ${shrink.inputLen} input values; this page gives 28×28 = 784.`,
    );
  }
  if (typeof shrink.info === "function") {
    const raw = shrink.info();
    showAbout(name, typeof raw === "string" ? JSON.parse(raw) : raw);
  } else {
    clearAbout("This build of the runtime cannot describe the file (no info()).");
    $("model-name").textContent = name;
    $("model-bytes").textContent = bytes(data.length);
  }
  $("memory-bytes").textContent = bytes(shrink.memoryBytes);
  $("error").hidden = true;
  setReady(true);
  resetResult();
}

/** A failed load: say why, and leave nothing on screen from the model before. */
function failed(message) {
  showError(message);
  setReady(false, "No usable model: choose a .shrk file with “Load another .shrk…” to draw.");
  clearAbout("No model loaded.");
}

/**
 * Whether to believe the model on this input: "dot" (almost nothing drawn), "blot" (more
 * ink than any MNIST digit), "unsure" (no class above MIN_CONFIDENCE) or "sure".
 * `extent`: the drawing's ink span as a share of the pad (null for a test digit).
 */
function judge(pixels, probs, extent) {
  if (extent && Math.max(extent.w, extent.h) < MIN_EXTENT) return "dot";
  const ink = pixels.reduce((a, v) => a + v, 0) / pixels.length;
  if (ink > MAX_INK) return "blot";
  return Math.max(...probs) < MIN_CONFIDENCE ? "unsure" : "sure";
}

/** Classify one 28×28 input, show the result; `timed`: also time TIMING_RUNS runs. */
function classify(pixels, options = {}) {
  if (!ready) return;
  try {
    showResult(pixels, options);
  } catch (e) {
    showError(`Prediction failed: ${e.message}`);
  }
}

function showResult(pixels, { timed = false, label = null, extent = null }) {
  const logits = shrink.predict(pixels);
  if (timed) {
    const t0 = performance.now();
    for (let i = 0; i < TIMING_RUNS; i++) shrink.predict(pixels);
    const ms = (performance.now() - t0) / TIMING_RUNS;
    // A clock that did not move (headless Chromium's virtual time) measures nothing.
    $("time").textContent = ms > 0 ? `${ms.toFixed(3)} ms (mean of ${TIMING_RUNS})` : "not measured (the clock stood still)";
  }
  const probs = softmax(logits);
  const name = (i) => shrink.classNames[i] || String(i);
  const best = argmax(probs);
  const verdict = judge(pixels, probs, extent);
  const sure = verdict === "sure";
  $("digit").textContent = sure ? name(best) : "?";
  $("digit").className = sure ? "" : "unsure";
  $("digit").dataset.verdict = verdict;
  paintDigit($("seen"), pixels);
  const truth = $("truth");
  const said = {
    sure: "",
    dot: "Too little to read: draw a digit that fills most of the pad.",
    blot: "Not a digit: more ink than any MNIST digit has.",
    unsure: `Not sure: no class reaches ${100 * MIN_CONFIDENCE}%.`,
  }[verdict];
  if (label === null) {
    truth.textContent = said;
    truth.className = sure ? "" : "unsure";
  } else {
    truth.textContent = `MNIST label ${label} — ${label === best ? "right" : "wrong"}${said ? `. ${said}` : ""}`;
    truth.className = label === best ? "good" : "bad";
  }
  const top = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 3);
  $("top3").className = sure ? "" : "unsure";
  $("top3").replaceChildren(
    ...top.map((i) => {
      const li = document.createElement("li");
      const pct = probs[i] < 0.0005 ? "<0.1" : (100 * probs[i]).toFixed(probs[i] > 0.999 ? 2 : 1);
      li.innerHTML = `<span class="name"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>`;
      li.querySelector(".name").textContent = name(i);
      li.querySelector(".fill").style.width = `${Math.max(1, 100 * probs[i])}%`;
      li.querySelector(".pct").textContent = `${pct}%`;
      return li;
    }),
  );
}

function resetResult(message = "Draw a digit on the black pad, or click a test digit below.") {
  $("digit").textContent = "–";
  $("digit").className = "";
  delete $("digit").dataset.verdict;
  $("truth").textContent = message;
  $("truth").className = "";
  $("top3").replaceChildren();
  $("top3").className = "";
  paintDigit($("seen"), new Float32Array(SIDE * SIDE));
}

// ---------------------------------------------------------------------------------
// Drawing pad

const pad = $("pad");
const ink = pad.getContext("2d", { willReadFrequently: true });
let stroke = null; // last point of the stroke being drawn
let pending = false; // a live classification is scheduled
let showsTestDigit = false; // the pad shows a clicked test digit, not a drawing

function clearPad() {
  ink.fillStyle = "#000";
  ink.fillRect(0, 0, pad.width, pad.height);
  showsTestDigit = false;
  document.querySelectorAll("#digits button").forEach((b) => b.classList.remove("active"));
  if (ready) resetResult();
}

function padPoint(event) {
  const r = pad.getBoundingClientRect();
  return [((event.clientX - r.left) * pad.width) / r.width, ((event.clientY - r.top) * pad.height) / r.height];
}

function classifyPad(timed) {
  const grey = canvasGrey(pad);
  const pixels = toMnist(grey, pad.width, pad.height);
  if (pixels) classify(pixels, { timed, extent: inkExtent(grey, pad.width, pad.height) });
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  if (!ready) return;
  pad.setPointerCapture(event.pointerId);
  if (showsTestDigit) clearPad(); // a new drawing, not ink on a test digit
  stroke = padPoint(event);
  ink.strokeStyle = ink.fillStyle = "#fff";
  ink.lineWidth = 24;
  ink.lineCap = ink.lineJoin = "round";
  ink.beginPath();
  ink.arc(stroke[0], stroke[1], ink.lineWidth / 2, 0, 2 * Math.PI);
  ink.fill();
});

pad.addEventListener("pointermove", (event) => {
  if (!stroke) return;
  const next = padPoint(event);
  ink.beginPath();
  ink.moveTo(...stroke);
  ink.lineTo(...next);
  ink.stroke();
  stroke = next;
  if (!pending) {
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      classifyPad(false);
    });
  }
});

for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!stroke) return;
    stroke = null;
    classifyPad(true);
  });
}

$("clear").addEventListener("click", clearPad);

$("file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  clearPad();
  try {
    useModel(file.name, new Uint8Array(await file.arrayBuffer()));
  } catch (e) {
    failed(e.message);
  }
  event.target.value = "";
});

// ---------------------------------------------------------------------------------
// Test digits

function showDigits() {
  $("digits").replaceChildren(
    ...digits.map((d) => {
      const button = document.createElement("button");
      button.type = "button";
      button.title = `MNIST test image #${d.index}, label ${d.label}`;
      button.setAttribute("aria-label", button.title);
      button.disabled = !ready;
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = SIDE;
      paintDigit(canvas, d.pixels);
      button.append(canvas);
      button.addEventListener("click", () => {
        clearPad();
        paintDigit(pad, d.pixels, true);
        showsTestDigit = true;
        button.classList.add("active");
        classify(d.pixels, { timed: true, label: d.label });
      });
      return button;
    }),
  );
}

// ---------------------------------------------------------------------------------
// Self-test (?selftest=1): classify the test digits as they are and as drawings (each
// painted onto the pad at 10× and preprocessed like a drawing), time the model, and
// write it all as JSON into <pre id="selftest">.

function runSelfTest() {
  if (!ready) throw new Error("no usable model loaded");
  const results = digits.map((d) => {
    paintDigit(pad, d.pixels, true);
    const drawn = toMnist(canvasGrey(pad), pad.width, pad.height);
    return {
      index: d.index,
      label: d.label,
      pred: argmax(shrink.predict(d.pixels)),
      redrawn: argmax(shrink.predict(drawn)),
    };
  });
  const t0 = performance.now();
  for (let i = 0; i < SELFTEST_RUNS; i++) shrink.predict(digits[i % digits.length].pixels);
  const elapsed = performance.now() - t0;
  return {
    results,
    junk: junkVerdicts(),
    runs: SELFTEST_RUNS,
    // null where the clock stands still: under --virtual-time-budget, headless Chromium
    // stops it once the page has loaded.
    ms_per_prediction: elapsed > 0 ? Number((elapsed / SELFTEST_RUNS).toFixed(4)) : null,
    model_bytes: modelFileBytes,
    memory_bytes: shrink.memoryBytes,
    wasm_bytes: shrink.wasmBytes,
  };
}

/**
 * What the page says about two inputs that are not digits, drawn on the pad as a user
 * would: a single dot, and a zig-zag scribble over the whole pad.
 */
function junkVerdicts() {
  const verdictOf = (draw) => {
    clearPad();
    ink.strokeStyle = ink.fillStyle = "#fff";
    ink.lineWidth = 24;
    ink.lineCap = ink.lineJoin = "round";
    draw();
    classifyPad(false);
    return { verdict: $("digit").dataset.verdict, shown: $("digit").textContent };
  };
  const dot = verdictOf(() => {
    ink.beginPath();
    ink.arc(140, 140, 12, 0, 2 * Math.PI);
    ink.fill();
  });
  const scribble = verdictOf(() => {
    ink.beginPath();
    ink.moveTo(20, 20);
    for (let y = 20; y <= 260; y += 16) {
      ink.lineTo(260, y);
      ink.lineTo(20, y + 8);
    }
    ink.stroke();
  });
  clearPad();
  return { dot, scribble };
}

/** Rendered widths (CSS pixels) of the top class's bar and of its track. */
function topBar() {
  const fill = document.querySelector("#top3 li .fill");
  const track = document.querySelector("#top3 li .track");
  return {
    fill_px: fill ? fill.getBoundingClientRect().width : 0,
    track_px: track ? track.getBoundingClientRect().width : 0,
  };
}

function writeSelfTest(result) {
  const out = $("selftest");
  out.textContent = JSON.stringify(result);
  out.hidden = false;
}

async function main() {
  const modelUrl = params.get("model") ?? "model.shrk";
  try {
    const [module, digitBytes] = await Promise.all([Shrink.load(), fetchBytes("digits.bin")]);
    shrink = module;
    $("wasm-bytes").textContent = bytes(shrink.wasmBytes);
    digits = parseDigits(digitBytes.buffer);
    showDigits();
    clearPad();
    const data = await fetchBytes(modelUrl).catch((e) => {
      throw new Error(`Could not fetch model ${modelUrl}: ${e.message}`);
    });
    useModel(modelUrl.split("/").pop(), data);
    if (selftest) {
      const result = runSelfTest();
      $("digits").querySelector("button").click(); // leave a result on screen
      writeSelfTest({ ...result, top_bar: topBar() });
    }
  } catch (e) {
    failed(e.message);
    if (selftest) writeSelfTest({ error: e.message });
  }
}

main();
