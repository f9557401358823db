/*
 * classify.c — classify images given as raw float32 values with a .shrk model.
 *
 *   cc -Wall -Werror -I crates/shrink-capi/include crates/shrink-capi/examples/classify.c \
 *      target/release/libshrink_capi.a -lpthread -ldl -lm -o classify
 *   ./classify model.shrk images.f32
 *
 * images.f32 holds N examples of the model's input shape as little-endian float32,
 * row-major (MNIST: 784 values per image, pixels / 255). For each example it prints one
 * line: the index, the best class (its name, or its index when the file names none)
 * with its softmax probability, then every logit
 * ("%.9g", enough digits to give back the exact float).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "shrink.h"

/* The whole file, or NULL (with a message) on failure. */
static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        size_t n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "%s: read error\n", path);
        free(buf);
        return NULL;
    }
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.shrk IMAGES.f32\n", argv[0]);
        return 2;
    }
    size_t model_len, images_len;
    unsigned char *model_bytes = read_file(argv[1], &model_len);
    if (!model_bytes) return 1;
    shrink_model *model;
    int rc = shrink_model_load(model_bytes, model_len, &model);
    free(model_bytes); /* the model keeps what it needs */
    if (rc != SHRINK_OK) {
        fprintf(stderr, "%s: %s (code %d)\n", argv[1], shrink_last_error(), rc);
        return 1;
    }
    size_t input_len = shrink_model_input_len(model);
    size_t classes = shrink_model_classes(model);

    unsigned char *images = read_file(argv[2], &images_len);
    if (!images) {
        shrink_model_free(model);
        return 1;
    }
    size_t example_bytes = input_len * sizeof(float);
    if (images_len == 0 || images_len % example_bytes != 0) {
        fprintf(stderr, "%s: %zu bytes is not a whole number of %zu-value float32 examples\n",
                argv[2], images_len, input_len);
        free(images);
        shrink_model_free(model);
        return 1;
    }
    size_t batch = images_len / example_bytes;
    /* realloc'd memory is aligned for float; little-endian hosts read the file as is. */
    float *logits = malloc(batch * classes * sizeof(float));
    if (!logits) {
        fprintf(stderr, "out of memory\n");
        free(images);
        shrink_model_free(model);
        return 1;
    }
    rc = shrink_model_predict(model, (const float *)images, batch, logits);
    if (rc != SHRINK_OK) {
        fprintf(stderr, "predict: %s (code %d)\n", shrink_last_error(), rc);
    } else {
        for (size_t i = 0; i < batch; i++) {
            const float *row = logits + i * classes;
            size_t best = 0;
            for (size_t c = 1; c < classes; c++)
                if (row[c] > row[best]) best = c;
            double sum = 0.0;
            for (size_t c = 0; c < classes; c++) sum += exp((double)row[c] - row[best]);
            const char *name = shrink_model_class_name(model, best);
            if (name)
                printf("%zu %s %.6f", i, name, 1.0 / sum);
            else
                printf("%zu %zu %.6f", i, best, 1.0 / sum);
            for (size_t c = 0; c < classes; c++) printf(" %.9g", row[c]);
            printf("\n");
        }
    }
    free(logits);
    free(images);
    shrink_model_free(model);
    return rc == SHRINK_OK ? 0 : 1;
}
