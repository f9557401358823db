// mnist.js — turn a drawing into a 28×28 input the way MNIST was made, and read the
// page's test digits. No DOM access here except reading a canvas's pixels.
//
// MNIST (LeCun et al., 1998): each digit was scaled to fit a 20×20 box keeping its
// aspect ratio, with anti-aliasing (grey levels), then placed in a 28×28 field so that
// its centre of mass is at the field's centre. White digit on black, values in [0, 1].

export const SIDE = 28;
const BOX = 20;
/** Grey level above which a pixel counts as ink for the bounding box. */
const INK = 0.05;

/** Grey levels in [0, 1] (the red channel) of a canvas drawn white on black. */
export function canvasGrey(canvas) {
  const { width, height } = canvas;
  const rgba = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  const grey = new Float32Array(width * height);
  for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i] / 255;
  return grey;
}

/**
 * Area-average resampling of `n` values (stride `stride`, from `offset`) to `m`
 * values: each output is the mean of the input over the span it covers, so shrinking
 * anti-aliases and nothing is lost between samples.
 */
function resampleLine(src, offset, stride, n, dst, dstOffset, dstStride, m) {
  const scale = m / n; // input pixel i covers output span [i·scale, (i+1)·scale)
  for (let k = 0; k < m; k++) dst[dstOffset + k * dstStride] = 0;
  for (let i = 0; i < n; i++) {
    const v = src[offset + i * stride];
    if (v === 0) continue;
    const a = i * scale;
    const b = (i + 1) * scale;
    for (let k = Math.floor(a); k < Math.min(m, Math.ceil(b)); k++) {
      const overlap = Math.min(b, k + 1) - Math.max(a, k);
      if (overlap > 0) dst[dstOffset + k * dstStride] += v * overlap;
    }
  }
}

/**
 * The bounding box of the ink of a `width × height` grey image, {x0, y0, w, h} in
 * pixels, or null when it holds no ink.
 */
function inkBox(grey, width, height) {
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (grey[y * width + x] > INK) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/**
 * How far the ink of a `width × height` grey image spans, as shares of its width and
 * height ({w, h} in (0, 1]), or null when it holds no ink.
 */
export function inkExtent(grey, width, height) {
  const b = inkBox(grey, width, height);
  return b && { w: b.w / width, h: b.h / height };
}

/**
 * The MNIST input (Float32Array of 28×28, row-major, [0, 1]) for a `width × height`
 * grey image, or null when it holds no ink.
 */
export function toMnist(grey, width, height) {
  const ink = inkBox(grey, width, height);
  if (!ink) return null;
  const { x0, y0, w, h } = ink;

  // Fit into 20×20 keeping the aspect ratio: rows first, then columns.
  const s = BOX / Math.max(w, h);
  const [tw, th] = [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))];
  const rows = new Float32Array(tw * h); // [h, tw]
  for (let y = 0; y < h; y++) {
    resampleLine(grey, (y0 + y) * width + x0, 1, w, rows, y * tw, 1, tw);
  }
  const box = new Float32Array(tw * th); // [th, tw]
  for (let x = 0; x < tw; x++) resampleLine(rows, x, tw, h, box, x, tw, th);

  // Centre of mass (pixel centres at +0.5) to the field's centre, whole pixels.
  let [mass, mx, my] = [0, 0, 0];
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = box[y * tw + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const dx = Math.round(SIDE / 2 - mx / mass);
  const dy = Math.round(SIDE / 2 - my / mass);
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const [ox, oy] = [x + dx, y + dy];
      if (ox >= 0 && ox < SIDE && oy >= 0 && oy < SIDE) {
        out[oy * SIDE + ox] = Math.min(1, box[y * tw + x]);
      }
    }
  }
  return out;
}

/**
 * The page's test digits (web/digits.bin): records of a label byte, the MNIST test-set
 * index (u16, little-endian) and 28×28 grey bytes. Returns [{label, index, pixels}],
 * pixels a Float32Array in [0, 1].
 */
export function parseDigits(buffer) {
  const bytes = new Uint8Array(buffer);
  const record = 3 + SIDE * SIDE;
  if (bytes.length % record !== 0) {
    throw new Error(`digits.bin: ${bytes.length} bytes is not a whole number of records`);
  }
  const digits = [];
  for (let at = 0; at < bytes.length; at += record) {
    digits.push({
      label: bytes[at],
      index: bytes[at + 1] | (bytes[at + 2] << 8),
      pixels: Float32Array.from(bytes.subarray(at + 3, at + record), (v) => v / 255),
    });
  }
  return digits;
}

/** Paint a 28×28 input onto `canvas`, scaled to fill it (smoothly when `smooth`). */
export function paintDigit(canvas, pixels, smooth = false) {
  const small = document.createElement("canvas");
  small.width = small.height = SIDE;
  const ctx = small.getContext("2d");
  const image = ctx.createImageData(SIDE, SIDE);
  for (let i = 0; i < pixels.length; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, pixels[i])));
    image.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(image, 0, 0);
  const out = canvas.getContext("2d");
  out.imageSmoothingEnabled = smooth;
  out.fillStyle = "#000";
  out.fillRect(0, 0, canvas.width, canvas.height);
  out.drawImage(small, 0, 0, canvas.width, canvas.height);
}
