// Load .shrk files into the WebAssembly build (web/shrink_wasm.wasm, the page's module)
// under Node and run each once at batch 1 on a fixed synthetic image: value
// ((x*7 + y*13 + c*50) mod 256) / 255, channel-major, the same pixels as a PNG made with
// that formula, so the top-3 probabilities can be compared with `shrink run IMAGE.png`.
// Prints one JSON line per file: load and predict milliseconds, the runtime's model
// bytes, the wasm memory size, the top 3; or the load error (e.g. a limit).
// `--max-macs=N` loads through shrink_model_load_with_limits (VGG-16 needs 15.5e9).
//
//   node bench/wasm_load.mjs web/shrink_wasm.wasm runs/os-alexnet/model.shrk
//   node bench/wasm_load.mjs web/shrink_wasm.wasm --max-macs=20000000000 runs/os-vgg-16/model.shrk
import { readFileSync } from "node:fs";
const wasm = readFileSync(process.argv[2]);
const e = new WebAssembly.Instance(new WebAssembly.Module(wasm), {}).exports;
const cstr = (p) => { const m = new Uint8Array(e.memory.buffer); let s = ""; for (let i = p; m[i]; i++) s += String.fromCharCode(m[i]); return s; };
const args = process.argv.slice(3);
const macsArg = args.find((a) => a.startsWith("--max-macs="));
const maxMacs = macsArg ? BigInt(macsArg.split("=")[1]) : null;
for (const f of args.filter((a) => !a.startsWith("--"))) {
  const data = readFileSync(f);
  const ptr = e.shrink_alloc(data.length), out = e.shrink_alloc(4);
  new Uint8Array(e.memory.buffer, ptr, data.length).set(data);
  let t = performance.now();
  const code = maxMacs === null
    ? e.shrink_model_load(ptr, data.length, out)
    : e.shrink_model_load_with_limits(ptr, data.length, 0n, maxMacs, out);
  const h = new Uint32Array(e.memory.buffer, out, 1)[0];
  const loadMs = performance.now() - t;
  e.shrink_free(ptr, data.length);
  if (code !== 0) { console.log(f, "load error", code, cstr(e.shrink_last_error())); continue; }
  const n = e.shrink_model_input_len(h) >>> 0, k = e.shrink_model_classes(h) >>> 0;
  // The PNG of the native run: 224x224 RGB, value (x*7+y*13+c*50)%256, CHW in [0,1].
  const side = Math.round(Math.sqrt(n / 3));
  const inp = e.shrink_alloc(4 * n), o = e.shrink_alloc(4 * k);
  const x = new Float32Array(e.memory.buffer, inp, n);
  for (let c = 0; c < 3; c++) for (let y = 0; y < side; y++) for (let xx = 0; xx < side; xx++) x[c * side * side + y * side + xx] = ((xx * 7 + y * 13 + c * 50) % 256) / 255;
  t = performance.now();
  const pc = e.shrink_model_predict(h, inp, 1, o);
  const predMs = performance.now() - t;
  const logits = Array.from(new Float32Array(e.memory.buffer, o, k));
  const mx = Math.max(...logits); const z = logits.reduce((a, v) => a + Math.exp(v - mx), 0);
  const top = logits.map((v, i) => [Math.exp(v - mx) / z, i]).sort((a, b) => b[0] - a[0]).slice(0, 3);
  console.log(JSON.stringify({ file: f, bytes: data.length, load_ms: loadMs.toFixed(0), predict_code: pc, predict_ms: predMs.toFixed(0), model_bytes: e.shrink_model_memory_bytes(h) >>> 0, wasm_memory_bytes: e.memory.buffer.byteLength, top }));
}
