// app.js — the page: a drawing pad, the test digits, the result panel, and a
// self-test mode (?selftest=1) that writes its results into <pre id="selftest"> for
// crates/shrink-wasm/tests/web.rs.

import { Shrink, softmax } from "./shrink.js";
import { SIDE, canvasGrey, toMnist, parseDigits, paintDigit } from "./mnist.js";

/** Predictions timed per shown result (the mean is shown). */
const TIMING_RUNS = 50;
/** Predictions timed in self-test mode. */
const SELFTEST_RUNS = 1000;

const params = new URLSearchParams(location.search);
const selftest = params.has("selftest");
const $ = (id) => document.getElementById(id);

let shrink = null; // Shrink, once the module is loaded
let ready = false; // a usable model is loaded
let digits = []; // [{label, index, pixels}]
let modelFileBytes = 0; // size of the loaded .shrk file

const bytes = (n) => `${n.toLocaleString("en-US").replace(/,/g, "\u2009")} bytes`;
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

/** Load a .shrk file's bytes into the module; throws an Error that names the file. */
function useModel(name, data) {
  ready = false;
  $("model-name").textContent = name;
  modelFileBytes = data.length;
  $("model-bytes").textContent = bytes(data.length);
  $("memory-bytes").textContent = "–";
  try {
    shrink.loadModel(data);
  } catch (e) {
    throw new Error(`Could not load model ${name}: ${e.message}`);
  }
  $("memory-bytes").textContent = bytes(shrink.memoryBytes);
  if (shrink.inputLen !== SIDE * SIDE) {
    throw new Error(
      `Model ${name} takes ${shrink.inputLen} input values; this page gives 28×28 = 784.`,
    );
  }
  $("error").hidden = true;
  ready = true;
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

function showResult(pixels, { timed = false, label = null }) {
  const logits = shrink.predict(pixels);
  if (timed) {
    const t0 = performance.now();
    for (let i = 0; i < TIMING_RUNS; i++) shrink.predict(pixels);
    const ms = (performance.now() - t0) / TIMING_RUNS;
    $("time").textContent = `${ms.toFixed(3)} ms (mean of ${TIMING_RUNS})`;
  }
  const probs = softmax(logits);
  const name = (i) => shrink.classNames[i] || String(i);
  const best = argmax(probs);
  $("digit").textContent = name(best);
  paintDigit($("seen"), pixels);
  const truth = $("truth");
  truth.textContent = label === null ? "" : `MNIST label ${label} — ${label === best ? "right" : "wrong"}`;
  truth.className = label === null ? "" : label === best ? "good" : "bad";
  const top = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 3);
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

function resetResult() {
  $("digit").textContent = "–";
  $("truth").textContent = "Draw a digit on the black pad, or click a test digit below.";
  $("truth").className = "";
  $("top3").replaceChildren();
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
  resetResult();
}

function padPoint(event) {
  const r = pad.getBoundingClientRect();
  return [((event.clientX - r.left) * pad.width) / r.width, ((event.clientY - r.top) * pad.height) / r.height];
}

function classifyPad(timed) {
  const pixels = toMnist(canvasGrey(pad), pad.width, pad.height);
  if (pixels) classify(pixels, { timed });
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
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
    showError(e.message);
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
    runs: SELFTEST_RUNS,
    // null where the clock stands still: under --virtual-time-budget, headless Chromium
    // stops it once the page has loaded.
    ms_per_prediction: elapsed > 0 ? Number((elapsed / SELFTEST_RUNS).toFixed(4)) : null,
    model_bytes: modelFileBytes,
    memory_bytes: shrink.memoryBytes,
    wasm_bytes: shrink.wasmBytes,
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
      writeSelfTest(runSelfTest());
      $("digits").querySelector("button").click(); // leave a result on screen
    }
  } catch (e) {
    showError(e.message);
    if (selftest) writeSelfTest({ error: e.message });
  }
}

main();
