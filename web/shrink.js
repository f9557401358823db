// shrink.js — the JavaScript side of crates/shrink-wasm: load the module, load a .shrk
// model into it, classify. Plain ES module, no dependencies, no wasm-bindgen.
//
// The module exports integer-only C functions (see crates/shrink-wasm/src/lib.rs);
// pointers are byte offsets into its `memory`. Views on that memory are made fresh
// after every call that may allocate, since growing the memory detaches old views.

/** Error codes of the shrink_* exports (crates/shrink-wasm/src/lib.rs). */
export const ErrorCode = Object.freeze({
  OK: 0,
  ARGUMENT: 1,
  NO_MODEL: 2,
  FORMAT: 3,
  MODEL: 4,
  BUSY: 5,
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
    this.#clearModel();
  }

  #clearModel() {
    this.#freeBuffers();
    /** f32 values per example (0: no model). */
    this.inputLen = 0;
    /** Logits per example. */
    this.classes = 0;
    /** One name per class ("" where the spec names none). */
    this.classNames = [];
    /** Bytes the loaded weights take in the module's memory. */
    this.memoryBytes = 0;
  }

  #memory(ptr, len) {
    return new Uint8Array(this.exports.memory.buffer, ptr, len);
  }

  #string(ptr, len) {
    return len === 0 ? "" : new TextDecoder().decode(this.#memory(ptr >>> 0, len >>> 0));
  }

  #check(code) {
    if (code !== ErrorCode.OK) {
      const e = this.exports;
      throw new ShrinkError(code, this.#string(e.shrink_error_ptr(), e.shrink_error_len()));
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
    this.#memory(ptr, data.length).set(data);
    const code = e.shrink_load(ptr, data.length);
    e.shrink_free(ptr, data.length);
    this.#check(code);
    this.inputLen = e.shrink_input_len() >>> 0;
    this.classes = e.shrink_classes() >>> 0;
    this.memoryBytes = e.shrink_memory_bytes() >>> 0;
    for (let i = 0; i < this.classes; i++) {
      this.classNames.push(this.#string(e.shrink_class_name_ptr(i), e.shrink_class_name_len(i)));
    }
  }

  /**
   * Logits (Float32Array, `batch × classes`) for `batch` raw examples in `x`
   * (`batch × inputLen` values; images in [0, 1] — the model normalises them).
   */
  predict(x, batch = 1) {
    if (this.inputLen === 0) throw new ShrinkError(ErrorCode.NO_MODEL, "no model loaded");
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
    const memory = this.exports.memory.buffer;
    new Float32Array(memory, input, x.length).set(x);
    this.#check(this.exports.shrink_predict(input, batch, output));
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
