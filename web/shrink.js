// shrink.js — the JavaScript side of crates/shrink-wasm: load the module, load a .shrk
// model into it, classify. Plain ES module, no dependencies, no wasm-bindgen.
//
// The module exports the C ABI of crates/shrink-capi/include/shrink.h (the same
// functions a C program links against) plus shrink_alloc/shrink_free; pointers are byte
// offsets into its `memory` and size_t is 32 bits. Views on that memory are made fresh
// after every call that may allocate, since growing the memory detaches old views.

/** Status codes of shrink.h (SHRINK_OK, SHRINK_ERR_*); NO_MODEL is this wrapper's. */
export const ErrorCode = Object.freeze({
  OK: 0,
  ARGUMENT: 1,
  NO_MODEL: 2,
  FORMAT: 3,
  MODEL: 4,
  INTERNAL: 5,
});

/** An error from the wasm module, with its code and message. */
export class ShrinkError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "ShrinkError";
    this.code = code;
  }
}

/** One instance of the wasm module holding at most one model. */
export class Shrink {
  /**
   * Fetch and instantiate the module (any MIME type: no instantiateStreaming). It is
   * compiled synchronously — a few milliseconds for this module — so that nothing runs
   * untracked in the background: headless Chromium's virtual time (the page's self-test)
   * would not wait for an asynchronous compile.
   */
  static async load(wasmUrl = new URL("shrink_wasm.wasm", import.meta.url)) {
    const response = await fetch(wasmUrl);
    if (!response.ok) {
      throw new Error(`${wasmUrl}: HTTP ${response.status} ${response.statusText}`);
    }
    const bytes = await response.arrayBuffer();
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    return new Shrink(instance.exports, bytes.byteLength);
  }

  constructor(exports, wasmBytes) {
    this.exports = exports;
    /** Size of the .wasm module in bytes. */
    this.wasmBytes = wasmBytes;
    /** The shrink_model handle (0: none). */
    this.handle = 0;
    this.#clearModel();
  }

  #clearModel() {
    this.#freeBuffers();
    if (this.handle !== 0) this.exports.shrink_model_free(this.handle);
    this.handle = 0;
    this.infoJson = "";
    /** f32 values per example (0: no model). */
    this.inputLen = 0;
    /** Shape of one example, e.g. [1, 28, 28]. */
    this.inputShape = [];
    /** Logits per example. */
    this.classes = 0;
    /** One name per class ("" where the file names none). */
    this.classNames = [];
    /** Bytes the loaded weights take in the module's memory. */
    this.memoryBytes = 0;
  }

  /** The NUL-terminated UTF-8 string at `ptr` ("" for a null pointer). */
  #cString(ptr) {
    ptr >>>= 0;
    if (ptr === 0) return "";
    const memory = new Uint8Array(this.exports.memory.buffer);
    const end = memory.indexOf(0, ptr);
    return new TextDecoder().decode(memory.subarray(ptr, end));
  }

  #check(code) {
    if (code !== ErrorCode.OK) {
      throw new ShrinkError(code, this.#cString(this.exports.shrink_last_error()));
    }
  }

  #alloc(len) {
    const ptr = this.exports.shrink_alloc(len) >>> 0;
    if (ptr === 0) throw new ShrinkError(ErrorCode.ARGUMENT, `out of memory (${len} bytes)`);
    return ptr;
  }

  #freeBuffers() {
    if (this.buffers) {
      const { input, output, inputSize, outputSize } = this.buffers;
      this.exports.shrink_free(input, inputSize);
      this.exports.shrink_free(output, outputSize);
    }
    this.buffers = null;
  }

  /**
   * Make the .shrk file in `bytes` (Uint8Array or ArrayBuffer) the model. Throws a
   * ShrinkError (code FORMAT, MODEL, …) naming what is wrong; then no model is loaded.
   */
  loadModel(bytes) {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    this.#clearModel();
    const e = this.exports;
    const ptr = this.#alloc(data.length);
    const out = this.#alloc(4);
    new Uint8Array(e.memory.buffer, ptr, data.length).set(data);
    const code = e.shrink_model_load(ptr, data.length, out);
    const handle = new Uint32Array(e.memory.buffer, out, 1)[0];
    e.shrink_free(ptr, data.length);
    e.shrink_free(out, 4);
    this.#check(code);
    this.handle = handle;
    this.inputLen = e.shrink_model_input_len(handle) >>> 0;
    const rank = e.shrink_model_input_rank(handle) >>> 0;
    for (let i = 0; i < rank; i++) this.inputShape.push(e.shrink_model_input_dim(handle, i) >>> 0);
    this.classes = e.shrink_model_classes(handle) >>> 0;
    this.memoryBytes = e.shrink_model_memory_bytes(handle) >>> 0;
    for (let i = 0; i < this.classes; i++) {
      this.classNames.push(this.#cString(e.shrink_model_class_name(handle, i)));
    }
    this.infoJson = this.#cString(e.shrink_model_info_json(handle));
  }

  /**
   * What the loaded file holds, as `shrink info FILE.shrk` reports it (the parsed JSON of
   * shrink_model_info_json): {name, input, classes, class_names, file_bytes,
   * header_bytes, dense_bytes, ratio, meta: {key: value}, tensors: [{name, shape, kind,
   * numel, kept, fillers, bits, index_bits, weight_bits_huffman, index_bits_huffman,
   * codebook_bytes, bytes}]}. Throws with no model loaded.
   */
  info() {
    if (this.handle === 0) throw new ShrinkError(ErrorCode.NO_MODEL, "no model loaded");
    return JSON.parse(this.infoJson);
  }

  /**
   * Logits (Float32Array, `batch × classes`) for `batch` raw examples in `x`
   * (`batch × inputLen` values; images in [0, 1] — the model normalises them).
   */
  predict(x, batch = 1) {
    if (this.handle === 0) throw new ShrinkError(ErrorCode.NO_MODEL, "no model loaded");
    if (x.length !== batch * this.inputLen) {
      throw new ShrinkError(
        ErrorCode.ARGUMENT,
        `input has ${x.length} values, ${batch} × ${this.inputLen} needed`,
      );
    }
    const inputSize = 4 * x.length;
    const outputSize = 4 * batch * this.classes;
    if (!this.buffers || this.buffers.inputSize < inputSize) {
      this.#freeBuffers();
      this.buffers = {
        input: this.#alloc(inputSize),
        inputSize,
        output: this.#alloc(outputSize),
        outputSize,
      };
    }
    const { input, output } = this.buffers;
    new Float32Array(this.exports.memory.buffer, input, x.length).set(x);
    this.#check(this.exports.shrink_model_predict(this.handle, input, batch, output));
    // The call may have grown the memory: view it afresh, and copy out.
    return new Float32Array(this.exports.memory.buffer, output, batch * this.classes).slice();
  }
}

/** Softmax of one row of logits, as probabilities. */
export function softmax(logits) {
  const max = Math.max(...logits);
  const exp = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / sum);
}
