/*
 * shrink.h — run a compressed .shrk model (from `shrink compress`) from C or C++.
 *
 * Link with libshrink_capi.a (static; also add -lpthread -ldl -lm) or libshrink_capi.so,
 * both built by `cargo build --release -p shrink-capi`. A whole program:
 *
 *     shrink_model *m;
 *     if (shrink_model_load(bytes, len, &m) != SHRINK_OK) {
 *         fprintf(stderr, "%s\n", shrink_last_error());
 *         return 1;
 *     }
 *     float *logits = malloc(batch * shrink_model_classes(m) * sizeof(float));
 *     int rc = shrink_model_predict(m, pixels, batch, logits);
 *     shrink_model_free(m);
 *
 * Ownership:
 *   - shrink_model_load copies what it needs; free the bytes whenever you like.
 *   - A shrink_model is yours: free it once with shrink_model_free.
 *   - Strings returned by shrink_model_class_name and shrink_model_info_json belong to
 *     the model and live until shrink_model_free. shrink_last_error's string belongs
 *     to the library and lives until the next failing call on the same thread.
 *     shrink_version's is static. Never free any of them.
 *   - Input and output buffers are the caller's; the library never keeps them.
 *
 * Thread safety:
 *   - Different models are independent.
 *   - One model may be used from several threads at once by every function except
 *     shrink_model_set_threads and shrink_model_free, which need it to themselves.
 *     Concurrent shrink_model_predict calls on one model are safe (a call that finds
 *     the model's scratch memory busy uses its own).
 *   - shrink_last_error is per thread: read it on the thread whose call failed.
 *
 * Errors: every function that can fail returns a status code (SHRINK_OK or one of the
 * SHRINK_ERR_* below) and sets the message. Bad bytes never crash: every offset and
 * length of a .shrk file is checked before use. Functions that return a size return 0
 * for a NULL model; pointers you pass are trusted to be as large as documented.
 *
 * The WebAssembly module of the web page (crates/shrink-wasm) exports these same
 * functions, plus shrink_alloc/shrink_free for JavaScript.
 */
#ifndef SHRINK_H
#define SHRINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
#define SHRINK_OK 0
/* A NULL pointer, a misaligned float buffer, a zero thread count, sizes that overflow. */
#define SHRINK_ERR_ARGUMENT 1
/* The bytes are not a valid .shrk container (bad magic, checksum, truncated, ...). */
#define SHRINK_ERR_FORMAT 3
/* A valid container whose spec and tensors do not make a runnable model. */
#define SHRINK_ERR_MODEL 4
/* A bug in shrink (caught; the message says where). */
#define SHRINK_ERR_INTERNAL 5

/* A loaded model. Opaque. */
typedef struct ShrinkModel shrink_model;

/* Decode the .shrk file in bytes[0..len) into a new model stored in *out (NULL on
 * failure). Returns SHRINK_OK, SHRINK_ERR_FORMAT, SHRINK_ERR_MODEL or
 * SHRINK_ERR_ARGUMENT. */
int shrink_model_load(const uint8_t *bytes, size_t len, shrink_model **out);

/* shrink_model_load with the two limits a large model meets first: at most max_params
 * learned parameters and max_macs multiply-adds per example; 0 keeps a limit's default
 * (2^28 parameters, 5e9 multiply-adds). VGG-16 needs max_macs >= 15489941504. */
int shrink_model_load_with_limits(const uint8_t *bytes, size_t len, uint64_t max_params,
                                  uint64_t max_macs, shrink_model **out);

/* Free a model; NULL is ignored. */
void shrink_model_free(shrink_model *model);

/* float values in one example: the product of the input shape. */
size_t shrink_model_input_len(const shrink_model *model);

/* Rank of one example's shape ([C, H, W]: 3; [F]: 1) and dimension i of it (0 when i
 * is out of range). */
size_t shrink_model_input_rank(const shrink_model *model);
size_t shrink_model_input_dim(const shrink_model *model, size_t i);

/* Outputs (logits) per example. */
size_t shrink_model_classes(const shrink_model *model);

/* Name of class i (UTF-8), or NULL when the file names no classes or i is out of range. */
const char *shrink_model_class_name(const shrink_model *model, size_t i);

/* Bytes the model's parameters take in memory (compressed, as stored). */
size_t shrink_model_memory_bytes(const shrink_model *model);

/* What the file holds, as one JSON object (the table of `shrink info FILE.shrk`):
 * {"name", "input", "classes", "class_names", "file_bytes", "header_bytes",
 *  "dense_bytes", "ratio", "meta": {key: value},
 *  "tensors": [{"name", "shape", "kind", "numel", "kept", "fillers", "bits",
 *               "index_bits", "weight_bits_huffman", "index_bits_huffman",
 *               "codebook_bytes", "bytes"}]}
 * header_bytes plus the tensors' bytes is file_bytes; dense_bytes is the parameters as
 * float32; ratio = dense_bytes / file_bytes. */
const char *shrink_model_info_json(const shrink_model *model);

/* Split a batch's examples over up to `threads` threads (default 1; batch 1: large
 * layers; the same logits as one thread; ignored by builds without threads). Returns SHRINK_OK or SHRINK_ERR_ARGUMENT (NULL model, threads == 0). */
int shrink_model_set_threads(shrink_model *model, size_t threads);

/* Logits for `batch` examples: reads input[0 .. batch * input_len) (row-major raw
 * values; images in [0, 1], the model normalises them itself) and writes
 * output[0 .. batch * classes). Returns SHRINK_OK or SHRINK_ERR_ARGUMENT. */
int shrink_model_predict(const shrink_model *model, const float *input, size_t batch,
                         float *output);

/* Message of the last failed call on this thread ("" when none). */
const char *shrink_last_error(void);

/* Library version, e.g. "0.1.0". */
const char *shrink_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SHRINK_H */
