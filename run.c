/*
 * run.c: write stories with a Llama model, in one C file with no dependencies.
 *
 *     make
 *     ./run out/model.bin -i "Write a story about a dragon who is afraid of the dark"
 *     ./run stories15M.bin -i "Once upon a time" -t 0.8 -p 0.9
 *
 * One binary reads every model file: llama2.c's version 0 ("legacy") and version 1, and this project's own
 * format, which adds what llama2.c's headers lack (the mode the model was trained for, BOS/EOS ids, rope
 * theta, norm eps, the tokenizer's identity and normalizer settings). export.py writes all three and
 * docs/run.md documents every byte. The format decides only how the weights are found in the file;
 * everything after loading is shared.
 *
 * The model is Llama 2 (Touvron et al. 2023): RMSNorm, rotary embeddings on interleaved pairs (llama2.c's
 * layout), grouped-query attention, a SwiGLU feed-forward. The tokenizer reproduces SentencePiece's BPE
 * encoding and decoding, and the sampler reproduces sample.py's, random numbers included, so `run` and
 * `python sample.py` print the same story for the same model, prompt and seed.
 *
 * Contents: errors and checked allocation; model files; the forward pass; the tokenizer; the sampler;
 * generation and the command line.
 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ----------------------------------------------------------------------------------------------------
 * Errors: every failure a user can cause ends here with one line on stderr. The exit status is 2 for a bad
 * command line (usage_error, the status Python's argparse uses) and 1 for everything else (die): files,
 * their contents, the prompt. */

enum { EXIT_USAGE = 2 };

static void report_error(const char *fmt, va_list args) {
    fflush(stdout);
    fputs("error: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
}

static void die(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    report_error(fmt, args);
    va_end(args);
    exit(EXIT_FAILURE);
}

static void usage_error(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    report_error(fmt, args);
    va_end(args);
    exit(EXIT_USAGE);
}

static void *checked_calloc(size_t count, size_t size, const char *what) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die("out of memory: cannot allocate %zu x %zu bytes for %s", count, size, what);
    return p;
}

static int32_t read_i32(const unsigned char *p) { int32_t v; memcpy(&v, p, 4); return v; }
static uint32_t read_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static float read_f32(const unsigned char *p) { float v; memcpy(&v, p, 4); return v; }

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* ----------------------------------------------------------------------------------------------------
 * Model files. All are little-endian; they differ in header, weight order and weight storage:
 *
 *   llama2.c v0   7 x int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
 *                 a negative vocab_size means an unshared classifier), then the weights tensor by tensor
 *                 (all layers' wq, then all wk, ...), the RoPE tables, and the classifier if unshared.
 *   llama2.c v1   256-byte header: magic "ak42", version 1, the same 7 ints, a shared-classifier byte;
 *                 the weights with the norms first, no RoPE tables.
 *   ours          256-byte header: magic "tsll", version, the 7 ints and the fields llama2.c lacks; the
 *                 weights layer by layer, each layer's wq/wk/wv and w1/w3 adjacent, which is the order
 *                 the forward pass reads them in. Version 1: float32 weights. Version 2: the same order,
 *                 each kind of matrix stored as its header byte says (float32, Q8_0, Q4_0 or NF4; below).
 *
 * In memory every format ends up in our layer-by-layer order, copied once at load into memory backed by
 * 2 MiB pages where the OS offers them: streaming all the weights for every token then costs far fewer TLB
 * misses than reading them from the page cache's 4 KiB pages (about 10% faster at 110M, docs/run.md). */

enum { HEADER_BYTES = 256, LEGACY_HEADER_BYTES = 7 * 4, SHA256_BYTES = 32 };
#define LLAMA2C_MAGIC 0x616b3432u   /* "ak42" as a little-endian uint32 */
static const char MODEL_MAGIC[4] = {'t', 's', 'l', 'l'};
enum { OUR_VERSION_FP32 = 1, OUR_VERSION_QUANT = 2 };
enum { TOKENIZER_ADD_DUMMY_PREFIX = 1, TOKENIZER_REMOVE_EXTRA_WHITESPACES = 2, TOKENIZER_FLAGS_NOT_RECORDED = 0xFF };

/* Version 2's storage types (formats/quants.py is the reference for every byte):
 *   Q8_0  ggml's block_q8_0: per 32 weights an fp16 scale d, then 32 int8 q; w = d q.
 *   Q4_0  ggml's block_q4_0: per 32 weights an fp16 scale d, then 16 bytes; byte j holds q_j in its low
 *         nibble and q_{j+16} in its high nibble; w = d (q - 8).
 *   NF4   lora.py's quantize_nf4 over each flattened tensor: ceil(n/2) bytes of 4-bit codes (element 2i in
 *         the high nibble of byte i), then ceil(n/blocksize) float32 absmax; w = NF4_CODE[code] absmax.
 * Header bytes 88..93 give the type of each kind of matrix below, bytes 96..99 the NF4 block size. */
typedef enum { WT_F32, WT_Q8_0, WT_Q4_0, WT_NF4, N_WEIGHT_TYPES } WeightType;
static const char *const TYPE_NAMES[N_WEIGHT_TYPES] = {"f32", "q8_0", "q4_0", "nf4"};
typedef enum { KIND_EMBEDDING, KIND_WQKV, KIND_WO, KIND_W13, KIND_W2, KIND_CLASSIFIER, N_KINDS } Kind;
static const char *const KIND_NAMES[N_KINDS] = {"embedding", "wq/wk/wv", "wo", "w1/w3", "w2", "classifier"};
enum { QK = 32, QUANT_TYPES_OFFSET = 88, NF4_BLOCKSIZE_OFFSET = 96, QUANT_HEADER_END = 100 };
enum { MAX_NF4_BLOCKSIZE = 1 << 20, MAX_FP16 = 65504 };

/* The 16 NF4 values (QLoRA appendix E), to the float32 bit the table in lora.py (bitsandbytes'). */
static const float NF4_CODE[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
};

typedef enum { FORMAT_LLAMA2C_V0, FORMAT_LLAMA2C_V1, FORMAT_OURS } Format;
typedef enum { MODE_GENERATE, MODE_INSTRUCT, MODE_ENCODE } Mode;

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int head_dim, kv_dim;
    int shared_classifier;
    float rope_theta, norm_eps;
    Mode mode;                 /* what the model was trained for: the default -m */
    int bos_id, eos_id;
    int tokenizer_flags;       /* TOKENIZER_* bits; -1 when the file does not say */
    unsigned char tokenizer_identity[SHA256_BYTES];  /* sha256 of the tokenizer's .model; zeros = not recorded */
    Format format;
    WeightType types[N_KINDS]; /* how each kind of matrix is stored: all WT_F32 but in our version 2 */
    int nf4_blocksize;         /* weights per NF4 absmax; 0 when no matrix is NF4 */
} Config;

/* A weight matrix W (rows, cols) for out = W x. Quantized matrices are kept in 32-weight blocks with one
 * fp16 scale each (Q8_0/Q4_0: d; NF4: absmax, the code table being scaled to +-127), and their codes are
 * rearranged at load into the "group layout" that the integer dot products stream:
 *
 *   A row's blocks go in groups of 8. Within a group, "chunk" c (0..7) is 32 bytes: for each of the 8
 *   blocks in order, its elements 4c..4c+3. So an int32 lane of a dot product over a chunk accumulates
 *   one block: 8 chunks later, the 8 lanes hold the 8 blocks' sums, ready to be scaled without any
 *   horizontal additions. Q8_0 codes and the quantized activations are stored exactly so (8 bits per
 *   weight). 4-bit codes are stored two per byte: byte 64k + 32h + i (k, h in {0, 1}, i < 32) of a group
 *   holds element i of chunk 4k + h in its low nibble and element i of chunk 4k + 2 + h in its high
 *   nibble. A 64-byte load then splits (and, shift, and) into two 64-byte operands that line up with 128
 *   contiguous bytes of activations; a 32-byte load likewise with two 32-byte chunks.
 *   The blocks after the last whole group (nb mod 8 of them: dim 288 leaves 1) stay in their natural
 *   order, one after another: a Q8_0 block's 32 codes, a 4-bit block's 16 bytes as ggml packs them (byte j:
 *   element j low, element j + 16 high). Each is one 32-byte dot product whose 8 lanes are summed by the
 *   row's final addition. */
typedef struct {
    WeightType type;
    int rows, cols;            /* out, in */
    float *f32;                /* (rows, cols) when type is WT_F32 */
    uint8_t *q;                /* (rows, cols) int8 codes for Q8_0, (rows, cols / 2) bytes for Q4_0, NF4 */
    uint16_t *scales;          /* (rows, cols / 32) fp16, one per block */
} Matrix;

typedef struct {
    float *attention_norm;  /* (dim,) */
    Matrix wqkv;            /* (dim + 2 kv_dim, dim): wq, wk, wv stacked, so one pass gives q, k and v */
    Matrix wo;              /* (dim, dim) */
    float *ffn_norm;        /* (dim,) */
    Matrix w13;             /* (2 hidden_dim, dim): w1 then w3, so one pass gives both SwiGLU inputs */
    Matrix w2;              /* (dim, hidden_dim) */
} LayerWeights;

typedef struct {
    Matrix token_embedding; /* (vocab_size, dim) */
    LayerWeights *layers;   /* (n_layers,) */
    float *norm;            /* (dim,) */
    Matrix classifier;      /* (vocab_size, dim); the token embedding when shared */
} Weights;

typedef struct {
    Config config;
    Weights weights;        /* pointers into memory */
    void *memory;           /* all the weights, in our order */
} Model;

/* Sanity bounds, the same as model.py's LLAMA2C_LIMITS: a corrupt header fails here with a message
 * instead of asking for terabytes. */
static void check_config(const Config *c, const char *path) {
    const struct { const char *name; int value; int limit; } fields[] = {
        {"dim", c->dim, 1 << 16}, {"hidden_dim", c->hidden_dim, 1 << 20}, {"n_layers", c->n_layers, 1 << 10},
        {"n_heads", c->n_heads, 1 << 12}, {"n_kv_heads", c->n_kv_heads, 1 << 12},
        {"vocab_size", c->vocab_size, 1 << 24}, {"seq_len", c->seq_len, 1 << 24},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value <= 0 || fields[i].value > fields[i].limit)
            die("%s: header has %s=%d, outside 1..%d; not a model file, or corrupt", path, fields[i].name,
                fields[i].value, fields[i].limit);
    if (c->dim % c->n_heads)
        die("%s: header has n_heads=%d, which does not divide dim=%d; corrupt", path, c->n_heads, c->dim);
    if (c->n_heads % c->n_kv_heads)
        die("%s: header has n_kv_heads=%d, which does not divide n_heads=%d; corrupt", path, c->n_kv_heads,
            c->n_heads);
    if ((c->dim / c->n_heads) % 2)
        die("%s: head_dim=%d is odd, but rotary embeddings rotate pairs; corrupt", path, c->dim / c->n_heads);
    if (!(c->rope_theta > 0 && isfinite(c->rope_theta)) || !(c->norm_eps > 0 && isfinite(c->norm_eps)))
        die("%s: header has rope_theta=%g, norm_eps=%g; both must be positive", path, c->rope_theta, c->norm_eps);
    if (c->bos_id < 0 || c->bos_id >= c->vocab_size || c->eos_id < 0 || c->eos_id >= c->vocab_size)
        die("%s: header has bos_id=%d, eos_id=%d outside the vocabulary of %d", path, c->bos_id, c->eos_id,
            c->vocab_size);
}

/* The input length of every matrix of a kind: what its rows' blocks must divide. */
static int kind_cols(const Config *c, Kind kind) { return kind == KIND_W2 ? c->hidden_dim : c->dim; }

/* Version 2's bytes 88..255: a known type for each kind, only where the rows are whole blocks, the same
 * type for a shared classifier as for the embedding, a power-of-two NF4 block size exactly when some
 * matrix is NF4, and zeros elsewhere. */
static void parse_quant_header(const unsigned char *h, const char *path, Config *c) {
    int uses_nf4 = 0;
    for (int k = 0; k < N_KINDS; k++) {
        int code = h[QUANT_TYPES_OFFSET + k];
        if (code >= N_WEIGHT_TYPES)
            die("%s: header gives %s the storage type %d; known types are 0 (f32), 1 (q8_0), 2 (q4_0) and 3 "
                "(nf4); corrupt, or written by a newer export.py", path, KIND_NAMES[k], code);
        c->types[k] = (WeightType)code;
        if (code != WT_F32 && kind_cols(c, (Kind)k) % QK)
            die("%s: header stores %s as %s, but its rows are %d long, not a multiple of %d; corrupt", path,
                KIND_NAMES[k], TYPE_NAMES[code], kind_cols(c, (Kind)k), QK);
        uses_nf4 |= code == WT_NF4;
    }
    if (c->shared_classifier && c->types[KIND_CLASSIFIER] != c->types[KIND_EMBEDDING])
        die("%s: the classifier shares the embedding but the header gives them the types %s and %s; corrupt",
            path, TYPE_NAMES[c->types[KIND_CLASSIFIER]], TYPE_NAMES[c->types[KIND_EMBEDDING]]);
    uint32_t blocksize = read_u32(h + NF4_BLOCKSIZE_OFFSET);
    if (uses_nf4 && (blocksize < QK || blocksize > MAX_NF4_BLOCKSIZE || (blocksize & (blocksize - 1))))
        die("%s: header's NF4 block size is %u; it must be a power of two in %d..%d; corrupt", path, blocksize, QK,
            MAX_NF4_BLOCKSIZE);
    if (!uses_nf4 && blocksize)
        die("%s: header gives an NF4 block size of %u but no matrix is NF4; corrupt", path, blocksize);
    c->nf4_blocksize = (int)blocksize;
    for (int i = QUANT_TYPES_OFFSET + N_KINDS; i < HEADER_BYTES; i++)
        if (h[i] && (i < NF4_BLOCKSIZE_OFFSET || i >= QUANT_HEADER_END))
            die("%s: reserved header byte %d is %d, not 0; corrupt, or written by a newer export.py", path, i, h[i]);
}

/* Bytes a (rows, cols) matrix takes in a file when stored as type. */
static int64_t tensor_bytes(WeightType type, int64_t rows, int64_t cols, int nf4_blocksize) {
    int64_t n = rows * cols;
    switch (type) {
    case WT_Q8_0: return n / QK * (2 + QK);
    case WT_Q4_0: return n / QK * (2 + QK / 2);
    case WT_NF4: return (n + 1) / 2 + 4 * ((n + nf4_blocksize - 1) / nf4_blocksize);
    default: return 4 * n;
    }
}

/* Bytes of weights in a file of our format, either version. */
static int64_t our_weight_bytes(const Config *c) {
    int64_t dim = c->dim, kv = c->kv_dim, hidden = c->hidden_dim, vocab = c->vocab_size, bs = c->nf4_blocksize;
    const WeightType *t = c->types;
    int64_t per_layer = 4 * 2 * dim + tensor_bytes(t[KIND_WQKV], dim, dim, bs)
                        + 2 * tensor_bytes(t[KIND_WQKV], kv, dim, bs) + tensor_bytes(t[KIND_WO], dim, dim, bs)
                        + 2 * tensor_bytes(t[KIND_W13], hidden, dim, bs) + tensor_bytes(t[KIND_W2], dim, hidden, bs);
    return tensor_bytes(t[KIND_EMBEDDING], vocab, dim, bs) + c->n_layers * per_layer + 4 * dim
           + (c->shared_classifier ? 0 : tensor_bytes(t[KIND_CLASSIFIER], vocab, dim, bs));
}

/* Floats of weights in a llama2.c file (the v0 RoPE tables are counted by the caller). */
static int64_t weight_floats(const Config *c) {
    int64_t dim = c->dim, kv = c->kv_dim, hidden = c->hidden_dim, vocab = c->vocab_size;
    int64_t per_layer = 2 * dim + dim * (dim + 2 * kv) + dim * dim + 3 * dim * hidden;
    return vocab * dim + c->n_layers * per_layer + dim + (c->shared_classifier ? 0 : vocab * dim);
}

/* Reads the header at the start of a file of file_bytes bytes into *c and returns the header's size. */
static size_t parse_header(const unsigned char *h, size_t file_bytes, const char *path, Config *c) {
    memset(c, 0, sizeof *c);
    c->rope_theta = 10000.0f;  /* llama2.c's fixed values, for its formats */
    c->norm_eps = 1e-5f;
    c->bos_id = 1, c->eos_id = 2;
    c->mode = MODE_GENERATE;
    c->tokenizer_flags = -1;
    c->shared_classifier = 1;
    size_t header_bytes;
    int version = 0;
    if (file_bytes >= 8 && memcmp(h, MODEL_MAGIC, 4) == 0) {
        version = read_i32(h + 4);
        if (version != OUR_VERSION_FP32 && version != OUR_VERSION_QUANT)
            die("%s: model format version %d; this run reads versions %d (float32) and %d (quantized), so "
                "re-export the model with export.py or build run from a newer checkout", path, version,
                OUR_VERSION_FP32, OUR_VERSION_QUANT);
        if (file_bytes < HEADER_BYTES)
            die("%s: truncated: %zu bytes, shorter than the %d-byte header", path, file_bytes, HEADER_BYTES);
        c->format = FORMAT_OURS;
        header_bytes = HEADER_BYTES;
        if (h[36] > 1 || h[37] > 1 || (h[38] > 3 && h[38] != TOKENIZER_FLAGS_NOT_RECORDED))
            die("%s: header has flag bytes %d %d %d, expected 0 or 1, 0 or 1, 0..3 or 255; corrupt", path, h[36],
                h[37], h[38]);
        c->shared_classifier = h[36];
        c->mode = h[37] ? MODE_INSTRUCT : MODE_GENERATE;
        c->tokenizer_flags = h[38] == TOKENIZER_FLAGS_NOT_RECORDED ? -1 : h[38];
        c->bos_id = read_i32(h + 40);
        c->eos_id = read_i32(h + 44);
        c->rope_theta = read_f32(h + 48);
        c->norm_eps = read_f32(h + 52);
        memcpy(c->tokenizer_identity, h + 56, SHA256_BYTES);
    } else if (file_bytes >= 8 && read_u32(h) == LLAMA2C_MAGIC) {
        version = read_i32(h + 4);
        if (version == 2)
            die("%s: a llama2.c version 2 (int8) file; this run reads llama2.c's float32 versions 0 and 1, and "
                "our quantized format: python export.py %s out.bin --quant q8_0", path, path);
        if (version != 1)
            die("%s: llama2.c format version %d is unknown (this run reads versions 0 and 1)", path, version);
        if (file_bytes < HEADER_BYTES)
            die("%s: truncated: %zu bytes, shorter than the %d-byte header", path, file_bytes, HEADER_BYTES);
        if (h[36] > 1) die("%s: header has shared_classifier=%d, expected 0 or 1; corrupt", path, h[36]);
        c->format = FORMAT_LLAMA2C_V1;
        header_bytes = HEADER_BYTES;
        c->shared_classifier = h[36];
    } else {
        if (file_bytes < LEGACY_HEADER_BYTES)
            die("%s: %zu bytes, too short to be a model file", path, file_bytes);
        c->format = FORMAT_LLAMA2C_V0;
        header_bytes = LEGACY_HEADER_BYTES;
    }
    const unsigned char *ints = c->format == FORMAT_LLAMA2C_V0 ? h : h + 8;
    c->dim = read_i32(ints), c->hidden_dim = read_i32(ints + 4), c->n_layers = read_i32(ints + 8);
    c->n_heads = read_i32(ints + 12), c->n_kv_heads = read_i32(ints + 16), c->vocab_size = read_i32(ints + 20);
    c->seq_len = read_i32(ints + 24);
    if (c->format == FORMAT_LLAMA2C_V0 && c->vocab_size < 0 && c->vocab_size != INT32_MIN) {
        c->shared_classifier = 0;  /* llama2.c's way of saying the classifier has its own weights */
        c->vocab_size = -c->vocab_size;
    }
    check_config(c, path);
    c->head_dim = c->dim / c->n_heads;
    c->kv_dim = c->n_kv_heads * c->head_dim;
    if (c->format == FORMAT_OURS && version == OUR_VERSION_QUANT) parse_quant_header(h, path, c);

    int64_t expected;
    if (c->format == FORMAT_OURS) expected = (int64_t)header_bytes + our_weight_bytes(c);
    else {
        int64_t floats = weight_floats(c);
        if (c->format == FORMAT_LLAMA2C_V0) floats += (int64_t)c->seq_len * c->head_dim;  /* cos and sin tables */
        expected = (int64_t)header_bytes + 4 * floats;
    }
    if ((int64_t)file_bytes != expected)
        die("%s: the header implies %lld bytes but the file has %zu; truncated, or not a model file", path,
            (long long)expected, file_bytes);
    return header_bytes;
}

/* fp16 <-> float32, portable (no F16C needed): the plain kernel and loading use these. */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    float v;
    if (exp == 0) {  /* zero or subnormal: mant * 2^-24, exact in float32 */
        v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    bits = sign | (exp == 31 ? 0x7F800000u | (mant << 13) : ((exp + 112) << 23) | (mant << 13));
    memcpy(&v, &bits, 4);
    return v;
}

/* f finite, 0 <= f <= 65504: the nearest fp16, ties to even. */
static uint16_t float_to_half(float f) {
    if (f < 6.103515625e-05f) return (uint16_t)lrintf(f * 16777216.0f);  /* subnormal: units of 2^-24 */
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t h = (((x >> 23) - 112) << 10) | ((x & 0x7FFFFF) >> 13), rest = x & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;  /* a carry into the exponent is still right */
    return (uint16_t)h;
}

/* The group layout (see Matrix): where element e (0..31) of block b of a row of nb blocks goes, in bytes
 * from the row's start, for 8-bit codes; and for 4-bit codes, with *high set for the high nibble. */
static int in_whole_group(int nb, int b) { return b < (nb & ~7); }

static size_t group_offset8(int nb, int b, int e) {
    if (!in_whole_group(nb, b)) return (size_t)b * QK + e;
    return (size_t)(b & ~7) * QK + (size_t)(e / 4) * 32 + 4 * (b & 7) + e % 4;
}

static size_t group_offset4(int nb, int b, int e, int *high) {
    if (!in_whole_group(nb, b)) {
        *high = e >= QK / 2;
        return (size_t)b * (QK / 2) + e % (QK / 2);
    }
    int c = e / 4;
    *high = (c % 4) / 2;
    return (size_t)(b & ~7) * (QK / 2) + (size_t)64 * (c / 4) + 32 * (c % 2) + 4 * (b & 7) + e % 4;
}

/* Stores code (a Q8_0 int8 as its byte, or a 4-bit code) of element e of block b of row r. */
static void put_code(const Matrix *m, int r, int b, int e, unsigned code) {
    int nb = m->cols / QK, high;
    if (m->type == WT_Q8_0) {
        m->q[(size_t)r * m->cols + group_offset8(nb, b, e)] = (uint8_t)code;
        return;
    }
    uint8_t *byte = m->q + (size_t)r * (m->cols / 2) + group_offset4(nb, b, e, &high);
    *byte |= (uint8_t)(high ? code << 4 : code);
}

/* The 4-bit or 8-bit code of element e of block b of row r: the inverse of put_code. */
static unsigned get_code(const Matrix *m, int r, int b, int e) {
    int nb = m->cols / QK, high;
    if (m->type == WT_Q8_0) return m->q[(size_t)r * m->cols + group_offset8(nb, b, e)];
    uint8_t byte = m->q[(size_t)r * (m->cols / 2) + group_offset4(nb, b, e, &high)];
    return high ? byte >> 4 : byte & 15;
}

/* Row r of m as float32, into out (cols,): the token embedding's lookup. */
static void dequantize_row(const Matrix *m, int r, float *out) {
    if (m->type == WT_F32) {
        memcpy(out, m->f32 + (size_t)r * m->cols, m->cols * sizeof(float));
        return;
    }
    int nb = m->cols / QK;
    for (int b = 0; b < nb; b++) {
        float scale = half_to_float(m->scales[(size_t)r * nb + b]);
        for (int e = 0; e < QK; e++) {
            unsigned code = get_code(m, r, b, e);
            float w = m->type == WT_Q8_0 ? (float)(int8_t)code : m->type == WT_Q4_0 ? (float)((int)code - 8)
                                                                                   : NF4_CODE[code];
            out[b * QK + e] = w * scale;
        }
    }
}

/* Reserves bytes in the weight memory at *offset, 64-byte aligned; returns where (NULL while only counting). */
static void *place(char *base, size_t *offset, size_t bytes) {
    size_t at = (*offset + 63) & ~(size_t)63;
    *offset = at + bytes;
    return base ? base + at : NULL;
}

static void place_matrix(Matrix *m, WeightType type, int rows, int cols, char *base, size_t *offset) {
    size_t n = (size_t)rows * cols;
    m->type = type, m->rows = rows, m->cols = cols;
    if (type == WT_F32) {
        m->f32 = place(base, offset, n * sizeof(float));
        return;
    }
    m->q = place(base, offset, type == WT_Q8_0 ? n : n / 2);
    m->scales = place(base, offset, n / QK * sizeof(uint16_t));
    if (base && type != WT_Q8_0) memset(m->q, 0, n / 2);  /* put_code ORs nibbles in */
}

/* Points w into the weight memory at base, in our order; returns the bytes it takes (base NULL: only count). */
static size_t place_weights(Weights *w, const Config *c, char *base) {
    size_t offset = 0, dim = c->dim, kv = c->kv_dim, hidden = c->hidden_dim;
    place_matrix(&w->token_embedding, c->types[KIND_EMBEDDING], c->vocab_size, dim, base, &offset);
    for (int l = 0; l < c->n_layers; l++) {
        LayerWeights *L = &w->layers[l];
        L->attention_norm = place(base, &offset, dim * sizeof(float));
        place_matrix(&L->wqkv, c->types[KIND_WQKV], dim + 2 * kv, dim, base, &offset);
        place_matrix(&L->wo, c->types[KIND_WO], dim, dim, base, &offset);
        L->ffn_norm = place(base, &offset, dim * sizeof(float));
        place_matrix(&L->w13, c->types[KIND_W13], 2 * hidden, dim, base, &offset);
        place_matrix(&L->w2, c->types[KIND_W2], dim, hidden, base, &offset);
    }
    w->norm = place(base, &offset, dim * sizeof(float));
    if (c->shared_classifier) w->classifier = w->token_embedding;
    else place_matrix(&w->classifier, c->types[KIND_CLASSIFIER], c->vocab_size, dim, base, &offset);
    return offset;
}

/* Copies n floats from *src to dst and advances *src: reads a file tensor by tensor. */
static void take(const unsigned char **src, float *dst, size_t n) {
    memcpy(dst, *src, n * sizeof(float));
    *src += n * sizeof(float);
}

/* Reads the tensor `name` of layer `layer` (-1: not in a layer), rows (rows, m->cols) stored as m->type at
 * *src, into rows row0.. of m; advances *src. Every scale is checked: a NaN or infinite one (or a negative
 * NF4 absmax, or one beyond fp16's range) is a corrupt file, not something to compute with. */
static void read_tensor(const Matrix *m, int row0, int rows, const unsigned char **src, const Config *c,
                        const char *path, const char *name, int layer) {
    const unsigned char *p = *src;
    int cols = m->cols, nb = cols / QK;
    char where[64];
    if (layer >= 0) snprintf(where, sizeof where, "layer %d's %s", layer, name);
    else snprintf(where, sizeof where, "%s", name);
    *src += tensor_bytes(m->type, rows, cols, c->nf4_blocksize);
    if (m->type == WT_F32) {
        memcpy(m->f32 + (size_t)row0 * cols, p, (size_t)rows * cols * sizeof(float));
        return;
    }
    if (m->type == WT_NF4) {  /* codes of the flattened tensor, then one float32 absmax per block */
        const unsigned char *codes = p, *absmax = p + ((size_t)rows * cols + 1) / 2;
        for (int r = 0; r < rows; r++)
            for (int b = 0; b < nb; b++) {
                size_t first = (size_t)r * cols + (size_t)b * QK;  /* element index in the flattened tensor */
                size_t block = first / c->nf4_blocksize;
                float a = read_f32(absmax + 4 * block);
                if (!(a >= 0 && a <= MAX_FP16))
                    die("%s: %s (nf4) has absmax %g in block %zu; it must be finite, >= 0 and at most %d; corrupt",
                        path, where, a, block, MAX_FP16);
                m->scales[(size_t)(row0 + r) * nb + b] = float_to_half(a);
                for (int e = 0; e < QK; e++) {
                    unsigned char byte = codes[(first + e) / 2];
                    put_code(m, row0 + r, b, e, (first + e) % 2 ? byte & 15 : byte >> 4);
                }
            }
        return;
    }
    size_t block_bytes = m->type == WT_Q8_0 ? 2 + QK : 2 + QK / 2;
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < nb; b++, p += block_bytes) {
            uint16_t d = (uint16_t)(p[0] | p[1] << 8);
            if ((d & 0x7C00) == 0x7C00)
                die("%s: %s (%s) row %d block %d has %s scale; corrupt", path, where, TYPE_NAMES[m->type], r, b,
                    d & 0x3FF ? "a NaN" : "an infinite");
            m->scales[(size_t)(row0 + r) * nb + b] = d;
            for (int e = 0; e < QK; e++)
                put_code(m, row0 + r, b, e, m->type == WT_Q8_0 ? p[2 + e] : e < 16 ? p[2 + e] & 15 : p[2 + e - 16] >> 4);
        }
}

/* Reads the weights of our format (either version), starting at src, into w. */
static void read_ours(const Weights *w, const Config *c, const unsigned char *src, const char *path) {
    int dim = c->dim, kv = c->kv_dim, hidden = c->hidden_dim;
    read_tensor(&w->token_embedding, 0, c->vocab_size, &src, c, path, "tok_embeddings", -1);
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *L = &w->layers[l];
        take(&src, L->attention_norm, dim);
        read_tensor(&L->wqkv, 0, dim, &src, c, path, "wq", l);
        read_tensor(&L->wqkv, dim, kv, &src, c, path, "wk", l);
        read_tensor(&L->wqkv, dim + kv, kv, &src, c, path, "wv", l);
        read_tensor(&L->wo, 0, dim, &src, c, path, "wo", l);
        take(&src, L->ffn_norm, dim);
        read_tensor(&L->w13, 0, hidden, &src, c, path, "w1", l);
        read_tensor(&L->w13, hidden, hidden, &src, c, path, "w3", l);
        read_tensor(&L->w2, 0, dim, &src, c, path, "w2", l);
    }
    take(&src, w->norm, dim);
    if (!c->shared_classifier) read_tensor(&w->classifier, 0, c->vocab_size, &src, c, path, "output", -1);
}

/* Copies the float32 weights of a llama2.c file, starting at src, into our layer-by-layer order. */
static void read_llama2c(const Weights *w, const Config *c, const unsigned char *src) {
    size_t dim = c->dim, kv = c->kv_dim, hidden = c->hidden_dim, L = c->n_layers;
    const LayerWeights *ly = w->layers;
    if (c->format == FORMAT_LLAMA2C_V1) {  /* norms first */
        for (size_t l = 0; l < L; l++) take(&src, ly[l].attention_norm, dim);
        for (size_t l = 0; l < L; l++) take(&src, ly[l].ffn_norm, dim);
        take(&src, w->norm, dim);
    }
    take(&src, w->token_embedding.f32, c->vocab_size * dim);
    if (c->format == FORMAT_LLAMA2C_V0)
        for (size_t l = 0; l < L; l++) take(&src, ly[l].attention_norm, dim);
    for (size_t l = 0; l < L; l++) take(&src, ly[l].wqkv.f32, dim * dim);                    /* wq */
    for (size_t l = 0; l < L; l++) take(&src, ly[l].wqkv.f32 + dim * dim, kv * dim);         /* wk */
    for (size_t l = 0; l < L; l++) take(&src, ly[l].wqkv.f32 + (dim + kv) * dim, kv * dim);  /* wv */
    for (size_t l = 0; l < L; l++) take(&src, ly[l].wo.f32, dim * dim);
    if (c->format == FORMAT_LLAMA2C_V0)
        for (size_t l = 0; l < L; l++) take(&src, ly[l].ffn_norm, dim);
    for (size_t l = 0; l < L; l++) take(&src, ly[l].w13.f32, hidden * dim);                  /* w1 */
    for (size_t l = 0; l < L; l++) take(&src, ly[l].w2.f32, dim * hidden);
    for (size_t l = 0; l < L; l++) take(&src, ly[l].w13.f32 + hidden * dim, hidden * dim);   /* w3 */
    if (c->format == FORMAT_LLAMA2C_V0) {
        take(&src, w->norm, dim);
        src += (size_t)c->seq_len * c->head_dim * sizeof(float);  /* llama2.c's RoPE tables: we compute our own */
    }
    if (!c->shared_classifier) take(&src, w->classifier.f32, c->vocab_size * dim);
}

/* Memory for the weights (and the KV cache), 2 MiB aligned and backed by huge pages where Linux offers them
 * (the hint may be ignored; the memory works either way). */
static void *alloc_pages(size_t bytes, const char *what) {
    const size_t huge_page = (size_t)2 << 20;
    bytes = (bytes + huge_page - 1) / huge_page * huge_page;
    void *p = NULL;
    if (posix_memalign(&p, huge_page, bytes ? bytes : huge_page) != 0)
        die("out of memory: cannot allocate %.1f MiB for %s", bytes / 1048576.0, what);
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);
#endif
    return p;
}

static void build_model(Model *m, const char *path) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("cannot open model file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) die("cannot stat model file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) die("%s is not a regular file; expected a model .bin", path);
    size_t bytes = (size_t)st.st_size;
    if (bytes < LEGACY_HEADER_BYTES) die("%s: %zu bytes, too short to be a model file", path, bytes);
    void *file = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (file == MAP_FAILED) die("cannot map model file %s: %s", path, strerror(errno));
    close(fd);  /* the mapping stays valid */

    Config *c = &m->config;
    size_t header = parse_header(file, bytes, path, c);
    m->weights.layers = checked_calloc(c->n_layers, sizeof(LayerWeights), "the layer table");
    m->memory = alloc_pages(place_weights(&m->weights, c, NULL), "the model's weights");
    place_weights(&m->weights, c, m->memory);
    const unsigned char *weights = (const unsigned char *)file + header;
    if (c->format == FORMAT_OURS) read_ours(&m->weights, c, weights, path);
    else read_llama2c(&m->weights, c, weights);
    munmap(file, bytes);
}

static void free_model(Model *m) {
    free(m->memory);
    free(m->weights.layers);
}

/* ----------------------------------------------------------------------------------------------------
 * The forward pass: one token at one position in, logits for the next token out. */

/* A vector quantized for the integer matrix-vector products (see "Quantized matrix-vector products"). */
typedef struct {
    int8_t *q;         /* (n,) int8 codes, in the group layout of an 8-bit matrix row */
    float *d;          /* (n / 32,) each block's scale: x ~ d q */
    int32_t *neg_sum;  /* (n / 32,) minus each block's sum of q, for the offset corrections */
} QuantizedVector;

typedef struct {
    float *x;            /* (dim,) the residual stream */
    float *xb, *xb2;     /* (dim,) scratch */
    float *qkv;          /* (dim + 2 kv_dim,) q, k and v of the current position */
    float *hb;           /* (2 hidden_dim,) w1 x, then w3 x */
    float *att;          /* (n_heads, n_pos) attention weights */
    float *logits;       /* (vocab_size,) */
    void *key_cache;     /* (n_layers, n_kv_heads, n_pos, head_dim): each head's keys contiguous, so */
    void *value_cache;   /* attention reads one sequential stream per head; likewise the values */
    int kv_f16;          /* the caches hold fp16 (a quantized model), else float32 */
    float *rope_cos, *rope_sin;  /* (head_dim / 2,) the rotation of the current position */
    QuantizedVector qx;  /* the input of a quantized matmul: (max(dim, hidden_dim),) */
    int n_pos;           /* positions the caches hold: only what this run will use, not the whole context */
} RunState;

/* Whether any matrix is quantized: then the KV cache is fp16 (see attend_f16). */
static int is_quantized(const Config *c) {
    for (int k = 0; k < N_KINDS; k++)
        if (c->types[k] != WT_F32) return 1;
    return 0;
}

static void build_state(RunState *s, const Config *c, int n_pos) {
    /* The KV cache dominates; refuse a size the machine cannot hold rather than fail half way. */
    s->kv_f16 = is_quantized(c);
    size_t element = s->kv_f16 ? sizeof(uint16_t) : sizeof(float);
    double cache_bytes = 2.0 * c->n_layers * (double)n_pos * c->kv_dim * element;
    double ram = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (ram > 0 && cache_bytes > 0.75 * ram)
        die("running %d positions needs %.1f GiB of KV cache, more than this machine can hold (%.1f GiB); "
            "run fewer with -n", n_pos, cache_bytes / (1 << 30), ram / (1 << 30));
    s->n_pos = n_pos;
    s->x = checked_calloc(c->dim, sizeof(float), "activations");
    s->xb = checked_calloc(c->dim, sizeof(float), "activations");
    s->xb2 = checked_calloc(c->dim, sizeof(float), "activations");
    s->qkv = checked_calloc(c->dim + 2 * c->kv_dim, sizeof(float), "activations");
    s->hb = checked_calloc(2 * (size_t)c->hidden_dim, sizeof(float), "activations");
    s->att = checked_calloc((size_t)c->n_heads * n_pos, sizeof(float), "attention weights");
    s->logits = checked_calloc(c->vocab_size, sizeof(float), "logits");
    /* In 2 MiB pages like the weights: attention reads every cached position of every head for every token,
     * and with 4 KiB pages its TLB misses cost about a tenth of its time (110M, Q4_0). Every position is
     * written before it is read, so the memory needs no zeroing. */
    size_t cache_bytes_exact = (size_t)c->n_layers * n_pos * c->kv_dim * element;
    s->key_cache = alloc_pages(cache_bytes_exact, "the key cache");
    s->value_cache = alloc_pages(cache_bytes_exact, "the value cache");
    s->rope_cos = checked_calloc(c->head_dim / 2, sizeof(float), "rotary embeddings");
    s->rope_sin = checked_calloc(c->head_dim / 2, sizeof(float), "rotary embeddings");
    size_t widest = c->hidden_dim > c->dim ? c->hidden_dim : c->dim;
    s->qx.q = checked_calloc(widest, 1, "the quantized activations");
    s->qx.d = checked_calloc(widest / QK + 1, sizeof(float), "the quantized activations");
    s->qx.neg_sum = checked_calloc(widest / QK + 1, sizeof(int32_t), "the quantized activations");
}

static void free_state(RunState *s) {
    free(s->x), free(s->xb), free(s->xb2), free(s->qkv), free(s->hb), free(s->att), free(s->logits);
    free(s->key_cache), free(s->value_cache), free(s->rope_cos), free(s->rope_sin);
    free(s->qx.q), free(s->qx.d), free(s->qx.neg_sum);
}

/* y = x / sqrt(mean(x^2) + eps) * weight (Zhang & Sennrich 2019). */
static void rmsnorm(float *out, const float *x, const float *weight, int n, float eps) {
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * weight[i];
}

static void softmax(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++) if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

/* x86-64's baseline SIMD is SSE2, 4 floats per instruction. Where the toolchain can (GCC or clang with
 * glibc's ifunc), the dot product that does nearly all the work is also built for AVX2 and AVX-512, and the
 * loader picks the widest the CPU has: the binary still runs on any x86-64, and is within a few percent of
 * a -march=native build (docs/run.md). */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef SIMD_CLONES
#define SIMD_CLONES
#endif

/* a . b. `omp simd reduction` lets the compiler keep the sum in a vector register of partial sums: the one
 * reordering of float additions it may not do on its own (without -ffast-math). */
SIMD_CLONES static float dot(const float *restrict a, const float *restrict b, int n) {
    float sum = 0.0f;
#pragma omp simd reduction(+:sum)
    for (int j = 0; j < n; j++) sum += a[j] * b[j];
    return sum;
}

/* Any float32 to the nearest fp16, ties to even, as PyTorch's .half() rounds it: past fp16's range an
 * infinity, a NaN a NaN. */
static uint16_t float_to_fp16(float f) {
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    float a = fabsf(f);
    if (isnan(a)) return sign | 0x7E00;
    if (a >= 65520.0f) return sign | 0x7C00;  /* halfway between 65504 and 2^16 rounds to the even: infinity */
    return sign | float_to_half(a);
}

/* fp16 to float32 in a form compilers vectorize (attention reads every cached key and value through it):
 * the fp16 exponent and mantissa moved into a float32's place and scaled by 2^112 is exactly the value for
 * every finite fp16, subnormals and zero included; infinities and NaNs get the all-ones exponent. */
static inline float fp16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)(h & 0x7FFF) << 13, r;
    float f;
    memcpy(&f, &u, sizeof f);
    f *= 0x1p112f;
    memcpy(&r, &f, sizeof r);
    r |= ((h & 0x7C00) == 0x7C00 ? 0x7F800000u : 0u) | (uint32_t)(h & 0x8000) << 16;
    memcpy(&f, &r, sizeof f);
    return f;
}

/* One head's attention at one position: att[t] = q . k_t * scale over the n cached positions, softmax,
 * and out = sum_t att[t] v_t, each v_t added to out in position order. Built for AVX2 and AVX-512 too,
 * like dot. Float32 caches (a float32 model: what llama2.c and model.py compute) and fp16 caches (a
 * quantized model, whose weights are already rounded far more; llama.cpp's default cache type): half
 * the bytes for attention to read, which at position 128 are a tenth of what a 110M model reads per token.
 * formats/model_bin.py's as_run_computes rounds keys and values to fp16 as well. */
SIMD_CLONES static void attend_f32(float *restrict out, float *restrict att, const float *restrict q,
                                   const float *restrict keys, const float *restrict values, int n, int head_dim,
                                   float scale) {
    for (int t = 0; t < n; t++) att[t] = dot(q, keys + (size_t)t * head_dim, head_dim) * scale;
    softmax(att, n);
    for (int i = 0; i < head_dim; i++) out[i] = 0.0f;
    for (int t = 0; t < n; t++) {
        const float *restrict v = values + (size_t)t * head_dim;
#pragma omp simd
        for (int i = 0; i < head_dim; i++) out[i] += att[t] * v[i];
    }
}

SIMD_CLONES static void attend_f16_plain(float *restrict out, float *restrict att, const float *restrict q,
                                    const uint16_t *restrict keys, const uint16_t *restrict values, int n,
                                    int head_dim, float scale) {
    for (int t = 0; t < n; t++) {
        const uint16_t *restrict k = keys + (size_t)t * head_dim;
        float sum = 0.0f;
#pragma omp simd reduction(+:sum)
        for (int j = 0; j < head_dim; j++) sum += q[j] * fp16_to_float(k[j]);
        att[t] = sum * scale;
    }
    softmax(att, n);
    for (int i = 0; i < head_dim; i++) out[i] = 0.0f;
    for (int t = 0; t < n; t++) {
        const uint16_t *restrict v = values + (size_t)t * head_dim;
#pragma omp simd
        for (int i = 0; i < head_dim; i++) out[i] += att[t] * fp16_to_float(v[i]);
    }
}

/* out (d,) = W (d, n) @ x (n,) for a float32 W. Nearly all the time goes here, and it is bound by memory
 * bandwidth: every weight is read once per token. Threads take contiguous blocks of rows, and each row is one
 * sequential stream. (Computing four rows per step, so that each load of x serves four, measured slower: it
 * reads four streams at once and was further from the bandwidth a plain sum reaches. See docs/run.md.) */
static void matmul_f32(float *restrict out, const float *restrict x, const float *restrict w, int n, int d) {
#pragma omp for schedule(static)
    for (int i = 0; i < d; i++) out[i] = dot(w + (size_t)i * n, x, n);
}

/* ----------------------------------------------------------------------------------------------------
 * Quantized matrix-vector products. A quantized weight costs 4.5 or 8.5 bits instead of 32, so these would
 * be 4-7x faster than float32 if they could still keep up with memory; decoding each weight to a float
 * and multiplying in float32 cannot (about 4 instructions per 16 weights). Instead, as in ggml and
 * llama2.c's runq.c, the input vector is quantized too, to int8 in blocks of 32 with a float scale each,
 * so that a block's dot product is a sum of int8 x int8 products, exact in int32, times two scales:
 *
 *     sum_j w_j x_j  ~  sum_blocks  d_w d_x  sum_{j in block} q_j p_j
 *
 * 64 such products are one AVX-512 VNNI instruction (vpdpbusd: unsigned bytes x signed bytes, summed in
 * fours into int32) or, with AVX2, two (vpmaddubsw, then vpmaddwd to widen). vpdpbusd wants one operand
 * unsigned: 4-bit codes are (0..15, with Q4_0's offset 8 taken out afterwards as 8 sum p_j), and Q8_0 and
 * NF4 codes are made so by adding 128 (flipping the top bit; the NF4 table is stored +128), which is
 * 128 sum p_j to take out. Those sums come with the quantized vector, one per block, and seed the int32
 * accumulator. NF4 codes become int8 through a 16-entry table (one byte shuffle): round(127 * NF4_CODE).
 *
 * The input is quantized once per matmul, then all rows of the matrix (wq/wk/wv at once, w1/w3 at once)
 * read it; threads take contiguous blocks of rows, as for float32. The error this adds is that of
 * rounding x to 8 bits per block (about 0.2% of the block's largest value, per element) and, for NF4, of
 * rounding the codes to the table (at most 0.4% of the absmax) and the absmax to fp16: all far below the
 * 4-bit quantization error itself; docs/run.md measures what it does to perplexity. */

static int8_t NF4_INT8[16];   /* round(127 * NF4_CODE) */
static uint8_t NF4_UINT8[16]; /* the same + 128, for vpdpbusd's unsigned operand */

static void init_nf4_tables(void) {
    for (int i = 0; i < 16; i++) {
        NF4_INT8[i] = (int8_t)lrintf(127.0f * NF4_CODE[i]);
        NF4_UINT8[i] = (uint8_t)(NF4_INT8[i] + 128);
    }
}

/* One block of 32 inputs -> its int8 codes q, scale d and sum of codes: scaled so the largest magnitude is
 * 127, rounded to nearest (even on ties). A block holding NaN or infinity gets a NaN scale and zero codes,
 * so the NaN reaches the output as it would in float32, without converting NaN to an integer. Each kernel
 * has its own version (below); all round the same numbers the same way. */
static void quantize_block_plain(const float *x, int8_t *q, float *d, int *sum) {
    float amax = 0.0f, probe = 0.0f;
    for (int e = 0; e < QK; e++) {
        float a = fabsf(x[e]);
        amax = a > amax ? a : amax;
        probe += x[e] * 0.0f;  /* NaN if any element is NaN or infinite */
    }
    *sum = 0;
    if (probe != 0.0f) {
        memset(q, 0, QK);
        *d = NAN;
        return;
    }
    *d = amax / 127.0f;
    float inv = *d > 0 ? 1.0f / *d : 0.0f;
    for (int e = 0; e < QK; e++) {
        int code = (int)nearbyintf(x[e] * inv);
        code = code > 127 ? 127 : code < -127 ? -127 : code;
        q[e] = (int8_t)code;
        *sum += code;
    }
}

/* Kernels compute out[i] for rows i of [r0, r1) of a quantized W: one call per thread's block of rows,
 * each row's blocks in the layout's order. NF4's table is scaled to +-127; post = 1/127 undoes it. */
static float post_scale(WeightType type) { return type == WT_NF4 ? 1.0f / 127.0f : 1.0f; }
static size_t row_bytes(const Matrix *w) { return w->type == WT_Q8_0 ? (size_t)w->cols : (size_t)w->cols / 2; }

/* The weight value of element e of block b of row r, as the kernels see it: an int8 (NF4 through the table). */
static int weight_value(const Matrix *w, int r, int b, int e) {
    unsigned code = get_code(w, r, b, e);
    return w->type == WT_Q8_0 ? (int8_t)code : w->type == WT_Q4_0 ? (int)code - 8 : NF4_INT8[code];
}

/* The plain C kernel, for any CPU. Its float arithmetic is the SIMD kernels' step for step (8 lanes: a block
 * of a whole group per lane, or a tail block's 8 runs of 4 elements; one fused multiply-add each; the same
 * pairwise sum at the end), so every kernel gives the same bits for every matrix. */
static void rows_plain(const Matrix *w, const QuantizedVector *v, int r0, int r1, float *out) {
    const int nb = w->cols / QK;
    for (int r = r0; r < r1; r++) {
        float lanes[8] = {0};
        for (int b = 0; b < nb; b++) {
            int whole = in_whole_group(nb, b);
            int32_t sums[8] = {0};
            for (int e = 0; e < QK; e++)
                sums[whole ? 0 : e / 4] += weight_value(w, r, b, e) * v->q[group_offset8(nb, b, e)];
            float scale = half_to_float(w->scales[(size_t)r * nb + b]) * v->d[b];
            if (whole) lanes[b & 7] = fmaf((float)sums[0], scale, lanes[b & 7]);
            else for (int j = 0; j < 8; j++) lanes[j] = fmaf((float)sums[j], scale, lanes[j]);
        }
        float s0 = lanes[0] + lanes[4], s1 = lanes[1] + lanes[5], s2 = lanes[2] + lanes[6], s3 = lanes[3] + lanes[7];
        out[r] = post_scale(w->type) * ((s0 + s2) + (s1 + s3));
    }
}

/* x86-64 kernels with intrinsics, compiled for their instruction sets by function attribute (like
 * target_clones, so `make` stays portable) and chosen at run time in choose_kernel. They take one row at a
 * time, so each thread reads one sequential stream: computing four rows per step (one load of the input
 * for four rows) measured 1.5-3x slower from memory here, as it did for float32. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define X86_KERNELS 1
#include <immintrin.h>
#define TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))

/* The sum of 8 floats (AVX2 code, which the AVX-512 kernel inlines too). */
TARGET_AVX2 INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* A block after the last whole group (natural order) as 32 signed int8 weights, element order: Q8_0 as it
 * is, 4-bit codes unpacked (low nibbles are elements 0..15), then Q4_0's offset or NF4's table. */
TARGET_AVX2 INLINE __m256i tail_block_avx2(const WeightType type, const uint8_t *g) {
    if (type == WT_Q8_0) return _mm256_loadu_si256((const __m256i *)g);
    const __m128i low = _mm_set1_epi8(0x0F), packed = _mm_loadu_si128((const __m128i *)g);
    __m256i codes = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(packed, 4), low), _mm_and_si128(packed, low));
    if (type == WT_Q4_0) return _mm256_sub_epi8(codes, _mm256_set1_epi8(8));
    return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)NF4_INT8)), codes);
}

/* AVX-512 VNNI, one row: a whole group of 8 blocks is 4 vpdpbusd of 64 bytes per row (two int32
 * chains, which the CPU overlaps), whose 16 lanes are each block's sum twice over: folded to 8, converted,
 * scaled and added. A tail block is one 32-byte vpdpbusd, signed x signed as |w| x (x with w's sign). */
TARGET_AVX512 INLINE float row_avx512(const WeightType type, const Matrix *w, const QuantizedVector *v, int row) {
    const int nb = w->cols / QK, shift = type == WT_Q4_0 ? 3 : 7;  /* the offset to take out: 8 or 128 sum(q) */
    const size_t stride = row_bytes(w), block_bytes = type == WT_Q8_0 ? QK : QK / 2;
    const uint8_t *q = w->q + row * stride;
    const uint16_t *ws = w->scales + (size_t)row * nb;
    const __m512i low = _mm512_set1_epi8(0x0F), flip = _mm512_set1_epi8((char)0x80);
    const __m512i table = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)NF4_UINT8));
    __m256 acc = _mm256_setzero_ps();
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        const int8_t *x = v->q + (size_t)b * QK;
        const __m512i x0 = _mm512_loadu_si512(x), x1 = _mm512_loadu_si512(x + 64);
        const __m512i x2 = _mm512_loadu_si512(x + 128), x3 = _mm512_loadu_si512(x + 192);
        const __m512i offset = _mm512_zextsi256_si512(
            _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(v->neg_sum + b)), shift));
        const __m256 d = _mm256_loadu_ps(v->d + b);
        const uint8_t *g = q + b * block_bytes;
        __m512i s0 = offset, s1 = _mm512_setzero_si512();
        if (type == WT_Q8_0) {
            s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(_mm512_loadu_si512(g), flip), x0);
            s1 = _mm512_dpbusd_epi32(s1, _mm512_xor_si512(_mm512_loadu_si512(g + 64), flip), x1);
            s0 = _mm512_dpbusd_epi32(s0, _mm512_xor_si512(_mm512_loadu_si512(g + 128), flip), x2);
            s1 = _mm512_dpbusd_epi32(s1, _mm512_xor_si512(_mm512_loadu_si512(g + 192), flip), x3);
        } else {
            __m512i c0 = _mm512_loadu_si512(g), c1 = _mm512_loadu_si512(g + 64);
            __m512i l0 = _mm512_and_si512(c0, low), h0 = _mm512_and_si512(_mm512_srli_epi16(c0, 4), low);
            __m512i l1 = _mm512_and_si512(c1, low), h1 = _mm512_and_si512(_mm512_srli_epi16(c1, 4), low);
            if (type == WT_NF4) {
                l0 = _mm512_shuffle_epi8(table, l0), h0 = _mm512_shuffle_epi8(table, h0);
                l1 = _mm512_shuffle_epi8(table, l1), h1 = _mm512_shuffle_epi8(table, h1);
            }
            s0 = _mm512_dpbusd_epi32(s0, l0, x0);
            s1 = _mm512_dpbusd_epi32(s1, h0, x1);
            s0 = _mm512_dpbusd_epi32(s0, l1, x2);
            s1 = _mm512_dpbusd_epi32(s1, h1, x3);
        }
        __m512i s = _mm512_add_epi32(s0, s1);
        __m256i sums = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
        __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ws + b))), d);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc);
    }
    for (; b < nb; b++) {  /* the blocks after the last whole group, in natural order */
        const __m256i x = _mm256_loadu_si256((const __m256i *)(v->q + (size_t)b * QK));
        __m256i w8 = tail_block_avx2(type, q + b * block_bytes);
        __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w8), _mm256_sign_epi8(x, w8));
        __m256 scale = _mm256_set1_ps(_cvtsh_ss(ws[b]) * v->d[b]);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc);
    }
    return post_scale(type) * hsum8(acc);
}

TARGET_AVX512 INLINE void rows_avx512_t(const WeightType type, const Matrix *w, const QuantizedVector *v, int r0,
                                        int r1, float *out) {
    for (int r = r0; r < r1; r++) out[r] = row_avx512(type, w, v, r);
}

TARGET_AVX512 static void rows_avx512(const Matrix *w, const QuantizedVector *v, int r0, int r1, float *out) {
    switch (w->type) {  /* one specialised copy of the loops per type */
    case WT_Q8_0: rows_avx512_t(WT_Q8_0, w, v, r0, r1, out); break;
    case WT_Q4_0: rows_avx512_t(WT_Q4_0, w, v, r0, r1, out); break;
    default: rows_avx512_t(WT_NF4, w, v, r0, r1, out); break;
    }
}

TARGET_AVX512 static void quantize_block_avx512(const float *x, int8_t *q, float *d, int *sum) {
    const __m512 inf = _mm512_set1_ps(INFINITY);
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
    *sum = 0;
    if (_mm512_cmp_ps_mask(a0, inf, _CMP_NLT_UQ) | _mm512_cmp_ps_mask(a1, inf, _CMP_NLT_UQ)) {  /* NaN or inf */
        memset(q, 0, QK);
        *d = NAN;
        return;
    }
    *d = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1)) / 127.0f;
    __m512 inv = _mm512_set1_ps(*d > 0 ? 1.0f / *d : 0.0f);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    __m512i i0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v0, inv)), lo), hi);
    __m512i i1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(v1, inv)), lo), hi);
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(i1));
}

TARGET_AVX2 static void quantize_block_avx2(const float *x, int8_t *q, float *d, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(INFINITY);
    __m256 v[4], amax = _mm256_setzero_ps();
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_loadu_ps(x + 8 * i);
        __m256 a = _mm256_andnot_ps(sign, v[i]);
        amax = _mm256_max_ps(amax, a);
        bad |= _mm256_movemask_ps(_mm256_cmp_ps(a, inf, _CMP_NLT_UQ));  /* NaN or inf */
    }
    *sum = 0;
    if (bad) {
        memset(q, 0, QK);
        *d = NAN;
        return;
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    *d = _mm_cvtss_f32(m) / 127.0f;
    __m256 inv = _mm256_set1_ps(*d > 0 ? 1.0f / *d : 0.0f);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    __m256i i32[4], total = _mm256_setzero_si256();
    for (int i = 0; i < 4; i++) {
        i32[i] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[i], inv)), lo), hi);
        total = _mm256_add_epi32(total, i32[i]);
    }
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    t = _mm_hadd_epi32(t, t);
    *sum = _mm_cvtsi128_si32(_mm_hadd_epi32(t, t));
    /* packs work within 128-bit lanes: the permute puts the four groups of 8 back in order */
    __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i32[0], i32[1]), _mm256_packs_epi32(i32[2], i32[3]));
    packed = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, packed);
}

/* 8-bit weights times activations, in int32 lanes of 4 products: vpmaddubsw needs an unsigned operand, so
 * (|w|, x with w's sign); pairs of products stay within int16 (2 * 127 * 127 < 32768). */
TARGET_AVX2 INLINE __m256i dot_signed_avx2(__m256i w, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)),
                             _mm256_set1_epi16(1));
}

/* AVX2, one row: each 32-byte chunk of a whole group is one operation per 8 blocks. Q4_0's products
 * (codes 0..15) are small enough to add eight chunks in int16 before widening; Q8_0 and NF4 (signed codes
 * up to 127) widen every chunk. A tail block is one 32-byte product, as in the AVX-512 kernel. */
TARGET_AVX2 INLINE float row_avx2(const WeightType type, const Matrix *w, const QuantizedVector *v, int row) {
    const int nb = w->cols / QK;
    const size_t stride = row_bytes(w), block_bytes = type == WT_Q8_0 ? QK : QK / 2;
    const uint8_t *q = w->q + row * stride;
    const uint16_t *ws = w->scales + (size_t)row * nb;
    const __m256i low = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)NF4_INT8));
    __m256 acc = _mm256_setzero_ps();
    int b = 0;
    for (; b + 8 <= nb; b += 8) {
        const int8_t *x = v->q + (size_t)b * QK;
        const __m256i offset = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)(v->neg_sum + b)), 3);  /* Q4_0 */
        const __m256 d = _mm256_loadu_ps(v->d + b);
        const uint8_t *g = q + b * block_bytes;
        __m256i s = _mm256_setzero_si256();
        if (type == WT_Q8_0) {
            for (int c = 0; c < 8; c++)
                s = _mm256_add_epi32(s, dot_signed_avx2(_mm256_loadu_si256((const __m256i *)(g + 32 * c)),
                                                        _mm256_loadu_si256((const __m256i *)(x + 32 * c))));
        } else {
            __m256i pairs = _mm256_setzero_si256();  /* Q4_0: int16 sums of products */
            for (int k = 0; k < 2; k++)
                for (int h = 0; h < 2; h++) {
                    __m256i codes = _mm256_loadu_si256((const __m256i *)(g + 64 * k + 32 * h));
                    __m256i lo = _mm256_and_si256(codes, low), hi = _mm256_and_si256(_mm256_srli_epi16(codes, 4), low);
                    __m256i xlo = _mm256_loadu_si256((const __m256i *)(x + 32 * (4 * k + h)));
                    __m256i xhi = _mm256_loadu_si256((const __m256i *)(x + 32 * (4 * k + 2 + h)));
                    if (type == WT_Q4_0) {
                        pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(lo, xlo));
                        pairs = _mm256_add_epi16(pairs, _mm256_maddubs_epi16(hi, xhi));
                    } else {
                        s = _mm256_add_epi32(s, dot_signed_avx2(_mm256_shuffle_epi8(table, lo), xlo));
                        s = _mm256_add_epi32(s, dot_signed_avx2(_mm256_shuffle_epi8(table, hi), xhi));
                    }
                }
            if (type == WT_Q4_0) s = _mm256_add_epi32(_mm256_madd_epi16(pairs, ones), offset);  /* - 8 sum p */
        }
        __m256 scale = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(ws + b))), d);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc);
    }
    for (; b < nb; b++) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(v->q + (size_t)b * QK));
        __m256i s = dot_signed_avx2(tail_block_avx2(type, q + b * block_bytes), x);
        __m256 scale = _mm256_set1_ps(_cvtsh_ss(ws[b]) * v->d[b]);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), scale, acc);
    }
    return post_scale(type) * hsum8(acc);
}

TARGET_AVX2 INLINE void rows_avx2_t(const WeightType type, const Matrix *w, const QuantizedVector *v, int r0, int r1,
                                    float *out) {
    for (int r = r0; r < r1; r++) out[r] = row_avx2(type, w, v, r);
}

TARGET_AVX2 static void rows_avx2(const Matrix *w, const QuantizedVector *v, int r0, int r1, float *out) {
    switch (w->type) {
    case WT_Q8_0: rows_avx2_t(WT_Q8_0, w, v, r0, r1, out); break;
    case WT_Q4_0: rows_avx2_t(WT_Q4_0, w, v, r0, r1, out); break;
    default: rows_avx2_t(WT_NF4, w, v, r0, r1, out); break;
    }
}

/* e^x for 8 floats: x = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, so r is exact to float32), e^r by
 * its Taylor series to r^6 (the first term left out is below 1.2e-7 of the sum), times 2^n put into the
 * exponent bits. Within 2.2e-7 of the true value (about 2 ulp; expf is within 1) for x in [-87, 88]; inputs
 * are clamped to that range (its ends are 1.6e-38 and 1.7e+38), and NaN stays NaN (max and min return their
 * second operand then). Calling expf per element instead spent 1.5% of a 110M 4-bit token in attention's
 * softmax and 2% in the SwiGLU. */
TARGET_AVX2 INLINE __m256 exp_avx2(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(-87.0f), _mm256_min_ps(_mm256_set1_ps(88.0f), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);  /* ln2's leading 16 bits: n ln2_hi exact */
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);     /* the rest of ln2 */
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i two_n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(two_n));
}

/* softmax with exp_avx2; the sum of the exponentials in 8 lanes. */
TARGET_AVX2 static void softmax_avx2(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++) if (x[i] > max) max = x[i];
    const __m256 m = _mm256_set1_ps(max);
    __m256 sum = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    float total = hsum8(sum);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        total += x[i];
    }
    for (i = 0; i < n; i++) x[i] /= total;
}

/* SwiGLU's gate for a quantized model: h[i] = silu(h[i]) * up[i] for the first n & ~7, with exp_avx2;
 * returns how many. */
TARGET_AVX2 static int swiglu_avx2(float *restrict h, const float *restrict up, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(h + i);
        __m256 silu = _mm256_div_ps(a, _mm256_add_ps(_mm256_set1_ps(1.0f), exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), a))));
        _mm256_storeu_ps(h + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    return i;
}

/* Converts the first n & ~7 of src to fp16 into dst and returns how many. */
TARGET_AVX2 static int store_f16_avx2(uint16_t *dst, const float *src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    return i;
}

/* attend_f16_plain with F16C's conversion (one instruction per 8 values, where the portable one takes
 * six, which made the fp16 cache no faster than float32's), for the AVX2 and AVX-512 kernels alike: eight
 * lanes of partial sums per key, and each pass over out adds four positions' values in position order. */
TARGET_AVX2 static void attend_f16_avx2(float *restrict out, float *restrict att, const float *restrict q,
                                        const uint16_t *restrict keys, const uint16_t *restrict values, int n,
                                        int head_dim, float scale) {
    const int vec = head_dim & ~7;
    for (int t = 0; t < n; t++) {
        const uint16_t *k = keys + (size_t)t * head_dim;
        __m256 acc = _mm256_setzero_ps();
        for (int j = 0; j < vec; j += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + j), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + j))), acc);
        float sum = hsum8(acc);
        for (int j = vec; j < head_dim; j++) sum += q[j] * fp16_to_float(k[j]);
        att[t] = sum * scale;
    }
    softmax_avx2(att, n);
    memset(out, 0, head_dim * sizeof(float));
    int t = 0;
    for (; t + 4 <= n; t += 4) {
        const uint16_t *v = values + (size_t)t * head_dim;
        const __m256 a0 = _mm256_set1_ps(att[t]), a1 = _mm256_set1_ps(att[t + 1]);
        const __m256 a2 = _mm256_set1_ps(att[t + 2]), a3 = _mm256_set1_ps(att[t + 3]);
        for (int j = 0; j < vec; j += 8) {
            __m256 o = _mm256_loadu_ps(out + j);
            o = _mm256_fmadd_ps(a0, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + j))), o);
            o = _mm256_fmadd_ps(a1, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + head_dim + j))), o);
            o = _mm256_fmadd_ps(a2, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 2 * head_dim + j))), o);
            o = _mm256_fmadd_ps(a3, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + 3 * head_dim + j))), o);
            _mm256_storeu_ps(out + j, o);
        }
        for (int j = vec; j < head_dim; j++)
            for (int u = 0; u < 4; u++) out[j] += att[t + u] * fp16_to_float(v[u * head_dim + j]);
    }
    for (; t < n; t++) {
        const uint16_t *v = values + (size_t)t * head_dim;
        const __m256 a = _mm256_set1_ps(att[t]);
        for (int j = 0; j < vec; j += 8)
            _mm256_storeu_ps(out + j, _mm256_fmadd_ps(a, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(v + j))),
                                                      _mm256_loadu_ps(out + j)));
        for (int j = vec; j < head_dim; j++) out[j] += att[t] * fp16_to_float(v[j]);
    }
}
#endif

/* Which kernel the quantized products use: the widest this CPU has, or RUN_KERNEL's choice (for tests and
 * benchmarks: plain, avx2, avx512), refused if the CPU lacks it. */
typedef enum { KERNEL_PLAIN, KERNEL_AVX2, KERNEL_AVX512, N_KERNELS } Kernel;
static const char *const KERNEL_NAMES[N_KERNELS] = {"plain", "avx2", "avx512"};
static Kernel kernel = KERNEL_PLAIN;

static void choose_kernel(void) {
    Kernel best = KERNEL_PLAIN;
#ifdef X86_KERNELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = KERNEL_AVX2;
    if (best == KERNEL_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
        best = KERNEL_AVX512;
#endif
    kernel = best;
    const char *want = getenv("RUN_KERNEL");
    if (!want || !*want) return;
    for (int k = 0; k < N_KERNELS; k++)
        if (strcmp(want, KERNEL_NAMES[k]) == 0) {
            if (k > (int)best) die("RUN_KERNEL=%s, but this CPU (or build) offers at most %s", want, KERNEL_NAMES[best]);
            kernel = (Kernel)k;
            return;
        }
    die("RUN_KERNEL=%s is not a kernel; one of plain, avx2, avx512", want);
}

/* dst (n,) = src rounded to fp16 (the cache of a quantized model), with F16C where the kernels have it:
 * the same rounding, to nearest with ties to even. */
static void store_f16(uint16_t *restrict dst, const float *restrict src, int n) {
    int i = 0;
#ifdef X86_KERNELS
    if (kernel != KERNEL_PLAIN) i = store_f16_avx2(dst, src, n);
#endif
    for (; i < n; i++) dst[i] = float_to_fp16(src[i]);
}

/* h = silu(h) * up, SwiGLU's gate, split among forward's threads (at 110M one thread alone would keep the
 * other waiting through 3% of a token). A quantized model's (vector_exp) with exp_avx2 where the kernel is
 * AVX2 or AVX-512, a float32 model's with expf: what llama2.c and model.py compute. */
static void swiglu(float *restrict h, const float *restrict up, int n, int vector_exp) {
    enum { CHUNK = 256 };
#pragma omp for schedule(static)
    for (int c = 0; c < n; c += CHUNK) {
        int i = c, end = c + CHUNK < n ? c + CHUNK : n;
#ifdef X86_KERNELS
        if (vector_exp && kernel != KERNEL_PLAIN) i += swiglu_avx2(h + c, up + c, end - c);
#else
        (void)vector_exp;
#endif
        for (; i < end; i++) h[i] = h[i] / (1.0f + expf(-h[i])) * up[i];
    }
}

/* A quantized model's attention over its fp16 cache, with the widest kernel chosen. */
static void attend_f16(float *out, float *att, const float *q, const uint16_t *keys, const uint16_t *values, int n,
                       int head_dim, float scale) {
#ifdef X86_KERNELS
    if (kernel != KERNEL_PLAIN) {
        attend_f16_avx2(out, att, q, keys, values, n, head_dim, scale);
        return;
    }
#endif
    attend_f16_plain(out, att, q, keys, values, n, head_dim, scale);
}

/* x (n,), n a multiple of 32 -> v, block by block (quantize_block_*), the codes into the group layout. */
static void quantize_vector(QuantizedVector *v, const float *restrict x, int n) {
    void (*quantize_block)(const float *, int8_t *, float *, int *) = quantize_block_plain;
#ifdef X86_KERNELS
    if (kernel == KERNEL_AVX512) quantize_block = quantize_block_avx512;
    if (kernel == KERNEL_AVX2) quantize_block = quantize_block_avx2;
#endif
    int nb = n / QK;
    for (int b = 0; b < nb; b++) {
        int8_t q[QK];
        int sum;
        quantize_block(x + (size_t)b * QK, q, &v->d[b], &sum);
        v->neg_sum[b] = -sum;
        if (!in_whole_group(nb, b)) {
            memcpy(v->q + (size_t)b * QK, q, QK);
            continue;
        }
        int8_t *group = v->q + (size_t)(b & ~7) * QK + 4 * (b & 7);
        for (int c = 0; c < 8; c++) memcpy(group + c * 32, q + 4 * c, 4);  /* chunk c: elements 4c..4c+3 */
    }
}

/* out (w->rows,) = W @ x, x (w->cols,), in whatever form W is stored; qx is scratch for the quantized x.
 * Called by every thread of forward's parallel region: one quantizes x while the others wait, then they
 * take contiguous blocks of 16 rows. (Outside a parallel region, as the tests' harnesses call it, one
 * thread does it all.) */
static void matmul(float *restrict out, const float *restrict x, const Matrix *w, QuantizedVector *qx) {
    if (w->type == WT_F32) {
        matmul_f32(out, x, w->f32, w->cols, w->rows);
        return;
    }
#pragma omp single
    quantize_vector(qx, x, w->cols);
    void (*rows)(const Matrix *, const QuantizedVector *, int, int, float *) = rows_plain;
#ifdef X86_KERNELS
    if (kernel == KERNEL_AVX512) rows = rows_avx512;
    if (kernel == KERNEL_AVX2) rows = rows_avx2;
#endif
    enum { BLOCK = 16 };
    int n_blocks = (w->rows + BLOCK - 1) / BLOCK;
#pragma omp for schedule(static)
    for (int i = 0; i < n_blocks; i++) rows(w, qx, i * BLOCK, i * BLOCK + BLOCK < w->rows ? i * BLOCK + BLOCK : w->rows, out);
}

/* Rotates each pair (v[2i], v[2i+1]) of every head by the current position's angle (RoFormer, Su et al.
 * 2021): llama2.c's interleaved layout, which model.py's apply_rope follows. */
static void rope(float *v, int n_heads, int head_dim, const float *cos_, const float *sin_) {
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < head_dim / 2; i++) {
            float *p = v + h * head_dim + 2 * i;
            float v0 = p[0], v1 = p[1];
            p[0] = v0 * cos_[i] - v1 * sin_[i];
            p[1] = v0 * sin_[i] + v1 * cos_[i];
        }
}

static float *forward(const Model *m, RunState *s, int token, int pos) {
    const Config *c = &m->config;
    const Weights *w = &m->weights;
    int dim = c->dim, kv_dim = c->kv_dim, hidden = c->hidden_dim, head_dim = c->head_dim, n_pos = s->n_pos;
    int group = c->n_heads / c->n_kv_heads;  /* query heads per K/V head (grouped-query attention) */
    float *x = s->x, *q = s->qkv, *k = s->qkv + dim, *v = s->qkv + dim + kv_dim;

    dequantize_row(&w->token_embedding, token, x);
    for (int i = 0; i < head_dim / 2; i++) {  /* the same float32 steps as model.py's precompute_rope */
        float freq = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)head_dim);
        float angle = (float)pos * freq;
        s->rope_cos[i] = cosf(angle);
        s->rope_sin[i] = sinf(angle);
    }

    /* Every thread runs the whole pass. Work-sharing loops split the matmuls (in matmul), attention (by
     * head) and the SwiGLU among them; each step between, from a norm to a residual add, is done by one
     * thread (`single`) while the others wait at its end. Inside one parallel region such a barrier costs
     * about 0.3 us here, where ending a parallel region and starting the next costs 1.4 us: with a region
     * per step, a 110M token paid that 73 times (docs/run.md). */
#pragma omp parallel
    {
        for (int l = 0; l < c->n_layers; l++) {
            const LayerWeights *L = &w->layers[l];
            size_t layer = (size_t)l * n_pos * kv_dim;  /* this layer's caches start here, in elements */

            /* attention: x += wo @ attention(rope(wq h), rope(wk h), wv h), h = rmsnorm(x) */
#pragma omp single
            rmsnorm(s->xb, x, L->attention_norm, dim, c->norm_eps);
            matmul(s->qkv, s->xb, &L->wqkv, &s->qx);
#pragma omp single
            {
                rope(q, c->n_heads, head_dim, s->rope_cos, s->rope_sin);
                rope(k, c->n_kv_heads, head_dim, s->rope_cos, s->rope_sin);
                for (int h = 0; h < c->n_kv_heads; h++) {
                    size_t at = layer + ((size_t)h * n_pos + pos) * head_dim;
                    if (s->kv_f16) {
                        store_f16((uint16_t *)s->key_cache + at, k + h * head_dim, head_dim);
                        store_f16((uint16_t *)s->value_cache + at, v + h * head_dim, head_dim);
                    } else {
                        memcpy((float *)s->key_cache + at, k + h * head_dim, head_dim * sizeof(float));
                        memcpy((float *)s->value_cache + at, v + h * head_dim, head_dim * sizeof(float));
                    }
                }
            }
            float scale = 1.0f / sqrtf((float)head_dim);
#pragma omp for schedule(static)
            for (int h = 0; h < c->n_heads; h++) {
                size_t at = layer + (size_t)(h / group) * n_pos * head_dim;
                float *out = s->xb + h * head_dim, *att = s->att + (size_t)h * n_pos;
                if (s->kv_f16)
                    attend_f16(out, att, q + h * head_dim, (const uint16_t *)s->key_cache + at,
                               (const uint16_t *)s->value_cache + at, pos + 1, head_dim, scale);
                else
                    attend_f32(out, att, q + h * head_dim, (const float *)s->key_cache + at,
                               (const float *)s->value_cache + at, pos + 1, head_dim, scale);
            }
            matmul(s->xb2, s->xb, &L->wo, &s->qx);

            /* feed-forward, SwiGLU (Shazeer 2020): x += w2 @ (silu(w1 h) * w3 h), h = rmsnorm(x) */
#pragma omp single
            {
                for (int i = 0; i < dim; i++) x[i] += s->xb2[i];
                rmsnorm(s->xb, x, L->ffn_norm, dim, c->norm_eps);
            }
            matmul(s->hb, s->xb, &L->w13, &s->qx);
            swiglu(s->hb, s->hb + hidden, hidden, s->kv_f16);
            matmul(s->xb, s->hb, &L->w2, &s->qx);
#pragma omp single
            for (int i = 0; i < dim; i++) x[i] += s->xb[i];
        }
#pragma omp single
        rmsnorm(x, x, w->norm, dim, c->norm_eps);
        matmul(s->logits, x, &w->classifier, &s->qx);
    }
    return s->logits;
}

/* ----------------------------------------------------------------------------------------------------
 * UTF-8. SentencePiece's rules: a character is valid when its bytes have the right shape, it is not an
 * overlong encoding, not a UTF-16 surrogate and not above U+10FFFF. */

/* The length a character starting with byte b claims: 1 for ASCII and for bytes that cannot start one. */
static int utf8_length(unsigned char b) {
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 3;
    if ((b & 0xF8) == 0xF0) return 4;
    return 1;
}

/* Whether s[0..n) is exactly one valid character. */
static int utf8_valid_char(const unsigned char *s, int n) {
    if (n != utf8_length(s[0])) return 0;
    if (n == 1) return s[0] < 0x80;
    uint32_t cp = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    return cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

/* The offset of the first byte that is not part of a valid character, or -1 if all of s is valid. */
static long utf8_first_invalid(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        int n = utf8_length(u[i]);
        if (i + n > len || !utf8_valid_char(u + i, n)) return (long)i;
        i += n;
    }
    return -1;
}

/* ----------------------------------------------------------------------------------------------------
 * The tokenizer: llama2.c's tokenizer.bin (int32 max piece length, then per id: float32 score, int32 byte
 * length, the bytes), which ours follow with an identity trailer. Pieces spell SentencePiece's whitespace
 * mark as ' ', so the normalized text below does too. */

/* The trailer tokenizer.py's export writes after the last piece: "tsid", then the sha256 of the .model the
 * pieces came from, the identity our model header records. It sits where a piece's float32 score would, and
 * as a float "tsid" is +1.7e22, while SentencePiece's scores are never positive: no piece starts like it. */
static const char TOKENIZER_TRAILER_MAGIC[4] = {'t', 's', 'i', 'd'};
enum { TOKENIZER_TRAILER_BYTES = 4 + SHA256_BYTES };

typedef struct {
    const char *str;
    int len;
    int id;
} PieceRef;

typedef struct {
    char *data;            /* the file's bytes; pieces point into it */
    const char **pieces;   /* (vocab_size,) */
    int *piece_len;        /* (vocab_size,) */
    float *scores;         /* (vocab_size,) BPE merge priority: higher merges first */
    int vocab_size;
    PieceRef *sorted;      /* the pieces BPE may produce, sorted by bytes, for binary search */
    int n_sorted;
    int byte_id[256];      /* id of the byte-fallback piece <0xHH>, or -1 */
    int *byte_of;          /* (vocab_size,) the byte a byte-fallback piece stands for, or -1 */
    int unk_id, bos_id, eos_id;
    int add_dummy_prefix, remove_extra_whitespaces;  /* SentencePiece's normalizer settings */
    unsigned char identity[SHA256_BYTES];  /* from the trailer: sha256 of the .model; zeros = no trailer */
} Tokenizer;

static int compare_pieces(const char *a, int alen, const char *b, int blen) {
    int r = memcmp(a, b, alen < blen ? alen : blen);
    return r ? r : (alen > blen) - (alen < blen);
}

static int compare_piece_refs(const void *a, const void *b) {
    const PieceRef *x = a, *y = b;
    int r = compare_pieces(x->str, x->len, y->str, y->len);
    return r ? r : x->id - y->id;
}

/* The id of the piece spelled s[0..len), lowest id if several, or -1. */
static int lookup_piece(const Tokenizer *t, const char *s, int len) {
    int lo = 0, hi = t->n_sorted;
    while (lo < hi) {  /* first entry >= s */
        int mid = lo + (hi - lo) / 2;
        if (compare_pieces(t->sorted[mid].str, t->sorted[mid].len, s, len) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < t->n_sorted && compare_pieces(t->sorted[lo].str, t->sorted[lo].len, s, len) == 0)
        return t->sorted[lo].id;
    return -1;
}

static int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int identity_recorded(const unsigned char *sha256) {
    for (int i = 0; i < SHA256_BYTES; i++)
        if (sha256[i]) return 1;
    return 0;
}

/* The first 12 hex digits of a sha256, as tokenizer.py and train.py print identities. */
static void identity_prefix(const unsigned char *sha256, char out[13]) {
    for (int i = 0; i < 6; i++) snprintf(out + 2 * i, 3, "%02x", sha256[i]);
}

/* Reads tokenizer.bin at path for the model at model_path, whose header is c: refuses a tokenizer whose
 * identity trailer names another .model than the header does, and, when either does not record one, a
 * tokenizer whose piece count is not the model's vocabulary size. */
static void build_tokenizer(Tokenizer *t, const char *path, const Config *c, const char *model_path) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open tokenizer %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) die("%s is not a regular file; expected a tokenizer.bin", path);
    size_t size = (size_t)st.st_size;
    t->data = checked_calloc(size + 1, 1, "the tokenizer file");
    if (fread(t->data, 1, size, f) != size) die("cannot read tokenizer %s: %s", path, strerror(errno));
    fclose(f);

    /* Pass 0 counts the pieces, checks every length and finds the trailer; pass 1 records the pieces. */
    const unsigned char *u = (const unsigned char *)t->data;
    if (size < 4 || read_i32(u) < 0)
        die("%s: not a llama2.c tokenizer.bin (no max-piece-length header)", path);
    size_t end = size;  /* where the pieces end: at the trailer, once pass 0 has found it */
    for (int pass = 0; pass < 2; pass++) {
        size_t offset = 4;
        int n = 0;
        while (offset < end) {
            if (size - offset >= 4 && memcmp(u + offset, TOKENIZER_TRAILER_MAGIC, 4) == 0) {
                if (size - offset != TOKENIZER_TRAILER_BYTES)
                    die("%s: the identity trailer after %d pieces has %zu bytes, expected %d; truncated or corrupt",
                        path, n, size - offset, TOKENIZER_TRAILER_BYTES);
                memcpy(t->identity, u + offset + 4, SHA256_BYTES);
                end = offset;
                break;
            }
            if (size - offset < 8) die("%s: truncated after %d pieces", path, n);
            int32_t len = read_i32(u + offset + 4);
            if (len < 0 || (size_t)len > size - offset - 8)
                die("%s: piece %d claims %d bytes but %zu remain; truncated or corrupt", path, n, len,
                    size - offset - 8);
            if (pass == 1) {
                t->scores[n] = read_f32(u + offset);
                t->pieces[n] = t->data + offset + 8;
                t->piece_len[n] = len;
            }
            offset += 8 + (size_t)len;
            n++;
        }
        if (pass == 0) {
            if (identity_recorded(c->tokenizer_identity) && identity_recorded(t->identity) &&
                memcmp(c->tokenizer_identity, t->identity, SHA256_BYTES) != 0) {
                char theirs[13], ours[13];
                identity_prefix(t->identity, theirs);
                identity_prefix(c->tokenizer_identity, ours);
                die("%s is tokenizer %s but %s was trained with tokenizer %s (sha256 of the .model); pass the "
                    "tokenizer the model was trained with (-z)", path, theirs, model_path, ours);
            }
            if (n != c->vocab_size)
                die("%s has %d pieces but the model's vocabulary has %d; pass the tokenizer the model was "
                    "trained with (-z)", path, n, c->vocab_size);
            t->vocab_size = n;
            t->pieces = checked_calloc(n, sizeof(char *), "tokenizer pieces");
            t->piece_len = checked_calloc(n, sizeof(int), "tokenizer pieces");
            t->scores = checked_calloc(n, sizeof(float), "tokenizer scores");
        }
    }

    /* SentencePiece's ids: <unk> 0 and the model file's BOS/EOS. Its BPE never produces those, nor the
     * byte-fallback pieces, which stand in only for characters the vocabulary lacks. */
    t->unk_id = 0, t->bos_id = c->bos_id, t->eos_id = c->eos_id;
    t->byte_of = checked_calloc(t->vocab_size, sizeof(int), "tokenizer byte table");
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    t->sorted = checked_calloc(t->vocab_size, sizeof(PieceRef), "tokenizer index");
    for (int id = 0; id < t->vocab_size; id++) {
        const char *p = t->pieces[id];
        int hi = t->piece_len[id] == 6 ? hex_digit(p[3]) : -1, lo = t->piece_len[id] == 6 ? hex_digit(p[4]) : -1;
        t->byte_of[id] = -1;
        if (hi >= 0 && lo >= 0 && memcmp(p, "<0x", 3) == 0 && p[5] == '>') {
            t->byte_of[id] = hi * 16 + lo;
            if (t->byte_id[hi * 16 + lo] < 0) t->byte_id[hi * 16 + lo] = id;
        } else if (id != t->unk_id && id != t->bos_id && id != t->eos_id) {
            t->sorted[t->n_sorted++] = (PieceRef){p, t->piece_len[id], id};
        }
    }
    qsort(t->sorted, t->n_sorted, sizeof(PieceRef), compare_piece_refs);

    int flags = c->tokenizer_flags;
    if (flags < 0) {
        /* llama2.c's files do not record the normalizer (nor may ours). llama2.c's tokenizers keep SentencePiece's defaults
         * (dummy prefix on, extra whitespace removed), except Meta's Llama 2 vocabulary, which keeps runs of
         * spaces. A piece of two or more spaces can only be learned from text whose runs were kept, so
         * such a piece means the runs are not collapsed. */
        int has_space_run_piece = 0;
        for (int id = 0; id < t->vocab_size && !has_space_run_piece; id++) {
            int len = t->piece_len[id], spaces = 0;
            while (spaces < len && t->pieces[id][spaces] == ' ') spaces++;
            has_space_run_piece = len >= 2 && spaces == len;
        }
        flags = TOKENIZER_ADD_DUMMY_PREFIX | (has_space_run_piece ? 0 : TOKENIZER_REMOVE_EXTRA_WHITESPACES);
    }
    t->add_dummy_prefix = (flags & TOKENIZER_ADD_DUMMY_PREFIX) != 0;
    t->remove_extra_whitespaces = (flags & TOKENIZER_REMOVE_EXTRA_WHITESPACES) != 0;
}

static void free_tokenizer(Tokenizer *t) {
    free(t->data), free(t->pieces), free(t->piece_len), free(t->scores), free(t->sorted), free(t->byte_of);
}

/* SentencePiece's normalizer with the identity rule: optionally drop leading, trailing and repeated
 * spaces, put a space in front (the "dummy prefix", so a word at the start reads like one after a space),
 * and mark every space with SentencePiece's U+2581, which we spell ' ' like tokenizer.bin does. A literal
 * U+2581 in the text becomes the same mark, as in SentencePiece. Returns the length written to out, which
 * needs len + 1 bytes. */
static size_t normalize(const Tokenizer *t, const char *text, size_t len, char *out) {
    size_t i = 0, n = 0;
    if (t->remove_extra_whitespaces)
        while (i < len && text[i] == ' ') i++;
    if (i == len) return 0;
    if (t->add_dummy_prefix) out[n++] = ' ';
    int prev_space = t->remove_extra_whitespaces;  /* true only while collapsing a run */
    while (i < len) {
        if (text[i] == ' ') {
            if (!prev_space) out[n++] = ' ';
            prev_space = t->remove_extra_whitespaces;
            i++;
        } else if (len - i >= 3 && memcmp(text + i, "\xE2\x96\x81", 3) == 0) {
            out[n++] = ' ';
            prev_space = 0;
            i += 3;
        } else {
            out[n++] = text[i++];
            prev_space = 0;
        }
    }
    if (t->remove_extra_whitespaces)
        while (n > 0 && out[n - 1] == ' ') n--;
    return n;
}

/* BPE encoding exactly as SentencePiece's bpe_model.cc does it: start from single characters and keep
 * merging the adjacent pair whose concatenation is the highest-scoring piece (leftmost first on ties),
 * with a max-heap of candidate pairs. A heap entry goes stale when either side has since merged with
 * something else; its recorded length then no longer matches, and it is skipped. */
typedef struct { int start, len, prev, next; } Symbol;
typedef struct { float score; int left, right, len; } Pair;

static int pair_before(const Pair *a, const Pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(Pair *heap, int *n, Pair c) {
    int i = (*n)++;
    while (i > 0 && pair_before(&c, &heap[(i - 1) / 2])) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = c;
}

static Pair heap_pop(Pair *heap, int *n) {
    Pair top = heap[0], last = heap[--*n];
    int i = 0;
    for (;;) {
        int child = 2 * i + 1;
        if (child >= *n) break;
        if (child + 1 < *n && pair_before(&heap[child + 1], &heap[child])) child++;
        if (!pair_before(&heap[child], &last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n > 0) heap[i] = last;
    return top;
}

static void push_pair(const Tokenizer *t, const char *text, const Symbol *sym, int left, int right,
                      Pair *heap, int *n_heap) {
    if (left < 0 || right < 0) return;
    int len = sym[left].len + sym[right].len;
    int id = lookup_piece(t, text + sym[left].start, len);
    if (id >= 0) heap_push(heap, n_heap, (Pair){t->scores[id], left, right, len});
}

/* Writes the ids of text (no BOS/EOS) to ids, which needs room for len + 1; returns how many. */
static int encode(const Tokenizer *t, const char *text, size_t len, int *ids) {
    char *norm = checked_calloc(len + 2, 1, "the normalized prompt");
    int n = (int)normalize(t, text, len, norm);
    Symbol *sym = checked_calloc(n, sizeof(Symbol), "the prompt's symbols");
    Pair *heap = checked_calloc(3 * (size_t)n, sizeof(Pair), "the BPE queue");
    int n_sym = 0, n_heap = 0;
    for (int i = 0; i < n;) {
        int clen = utf8_length((unsigned char)norm[i]);
        if (clen > n - i) clen = n - i;
        sym[n_sym] = (Symbol){i, clen, n_sym - 1, i + clen < n ? n_sym + 1 : -1};
        n_sym++;
        i += clen;
    }
    for (int i = 0; i + 1 < n_sym; i++) push_pair(t, norm, sym, i, i + 1, heap, &n_heap);
    while (n_heap > 0) {
        Pair top = heap_pop(heap, &n_heap);
        Symbol *left = &sym[top.left], *right = &sym[top.right];
        if (left->len == 0 || right->len == 0 || left->len + right->len != top.len) continue;  /* stale */
        left->len += right->len;
        right->len = 0;
        left->next = right->next;
        if (right->next >= 0) sym[right->next].prev = top.left;
        push_pair(t, norm, sym, left->prev, top.left, heap, &n_heap);
        push_pair(t, norm, sym, top.left, left->next, heap, &n_heap);
    }
    int n_ids = 0;
    for (int i = n_sym > 0 ? 0 : -1; i >= 0; i = sym[i].next) {
        int id = lookup_piece(t, norm + sym[i].start, sym[i].len);
        if (id >= 0) {
            ids[n_ids++] = id;
            continue;
        }
        /* a character the vocabulary lacks: its UTF-8 bytes as byte-fallback pieces, else <unk> */
        int has_bytes = 1;
        for (int b = 0; b < sym[i].len; b++) has_bytes &= t->byte_id[(unsigned char)norm[sym[i].start + b]] >= 0;
        if (!has_bytes) ids[n_ids++] = t->unk_id;
        else for (int b = 0; b < sym[i].len; b++) ids[n_ids++] = t->byte_id[(unsigned char)norm[sym[i].start + b]];
    }
    free(norm), free(sym), free(heap);
    return n_ids;
}

/* Prints token ids as text, the way Tokenizer.decode (SentencePiece) renders the whole sequence, but as
 * the tokens arrive: BOS, EOS and <unk> print nothing; byte-fallback pieces are collected into characters,
 * each invalid byte printing as U+FFFD; the first space of the text is dropped (it is the dummy prefix). */
typedef struct {
    const Tokenizer *t;
    unsigned char pending[4];  /* bytes of a character whose remaining bytes have not arrived */
    int n_pending;
    int printed;               /* whether any text has been printed */
    int at_start;              /* SentencePiece's is_bos_ws: a leading space would still be dropped */
    int dropped_space;         /* the last piece's leading space was dropped */
} TextWriter;

static void emit(TextWriter *w, const void *bytes, size_t n) {
    if (n == 0) return;
    if (fwrite(bytes, 1, n, stdout) != n) die("cannot write to stdout: %s", strerror(errno));
    w->printed = 1;
}

/* Prints the pending bytes that make up whole characters; with end set, all of them. */
static void flush_bytes(TextWriter *w, int end) {
    while (w->n_pending > 0) {
        int n = utf8_length(w->pending[0]);
        if (w->n_pending < n && !end) return;  /* wait for the rest of the character */
        if (w->n_pending >= n && utf8_valid_char(w->pending, n)) {
            emit(w, w->pending, n);
        } else {
            emit(w, "\xEF\xBF\xBD", 3);  /* U+FFFD REPLACEMENT CHARACTER, for one invalid byte */
            n = 1;
        }
        memmove(w->pending, w->pending + n, w->n_pending - n);
        w->n_pending -= n;
    }
}

static void write_token(TextWriter *w, int id) {
    const Tokenizer *t = w->t;
    if (id == t->bos_id || id == t->eos_id || id == t->unk_id) return;
    if (t->byte_of[id] >= 0) {
        w->pending[w->n_pending++] = (unsigned char)t->byte_of[id];
        flush_bytes(w, 0);
        return;
    }
    flush_bytes(w, 1);
    if (w->dropped_space || w->printed) w->at_start = 0;
    const char *piece = t->pieces[id];
    int len = t->piece_len[id];
    w->dropped_space = 0;
    if (w->at_start && (t->add_dummy_prefix || t->remove_extra_whitespaces) && len > 0 && piece[0] == ' ') {
        piece++, len--;
        /* SentencePiece stops dropping after one space, unless it collapses whitespace anyway */
        w->dropped_space = !t->remove_extra_whitespaces;
    }
    emit(w, piece, len);
    fflush(stdout);
}

/* ----------------------------------------------------------------------------------------------------
 * The sampler: the same steps and random numbers as model.py's Sampler, so seeds mean the same in both. */

typedef struct {
    float prob;
    int id;
} ProbId;

typedef struct {
    int vocab_size;
    float temperature;  /* 0 = greedy */
    float top_p;        /* nucleus sampling when in (0, 1); off otherwise */
    int top_k;          /* keep only the k most likely when > 0 */
    uint64_t state;     /* xorshift64* state, never 0 */
    ProbId *candidates;
} Sampler;

/* xorshift64* (Marsaglia 2003; Vigna 2016), as llama2.c: the top 32 bits of state * a constant. */
static uint32_t random_u32(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* A float32 in [0, 1) from the top 24 bits. */
static float random_f32(uint64_t *state) { return (random_u32(state) >> 8) / 16777216.0f; }

static int by_probability(const void *a, const void *b) {
    const ProbId *x = a, *y = b;
    if (x->prob != y->prob) return x->prob > y->prob ? -1 : 1;
    return x->id - y->id;  /* lowest id first on ties, like a stable sort */
}

/* Collects the tokens with probability >= cutoff into s->candidates, most likely first, cut to top-k;
 * returns how many. With top-p, tokens below (1 - p) / (n - 1) cannot be in the nucleus (the others would
 * then hold less than p), so only those above need sorting: a few dozen instead of the whole vocabulary. */
static int sort_candidates(Sampler *s, const float *probs, float cutoff) {
    int m = 0;
    for (int i = 0; i < s->vocab_size; i++)
        if (probs[i] >= cutoff) s->candidates[m++] = (ProbId){probs[i], i};
    qsort(s->candidates, m, sizeof(ProbId), by_probability);
    return s->top_k > 0 && m > s->top_k ? s->top_k : m;
}

/* The length of the shortest prefix of the m candidates whose mass exceeds top_p, or 0 if none does. */
static int nucleus_size(const Sampler *s, int m) {
    float cumulative = 0.0f;
    for (int i = 0; i < m; i++) {
        cumulative += s->candidates[i].prob;
        if (cumulative > s->top_p) return i + 1;
    }
    return 0;
}

static int sample(Sampler *s, float *logits) {
    int n = s->vocab_size;
    if (s->temperature == 0.0f) {
        int best = 0;
        for (int i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
    for (int i = 0; i < n; i++) logits[i] /= s->temperature;
    softmax(logits, n);
    float coin = random_f32(&s->state);  /* drawn before any filtering, as model.py does */
    int top_p_on = s->top_p > 0.0f && s->top_p < 1.0f;
    if (s->top_k == 0 && !top_p_on) {  /* plain multinomial: walk the vocabulary in id order */
        float cdf = 0.0f;
        for (int i = 0; i < n; i++) {
            cdf += logits[i];
            if (coin < cdf) return i;
        }
        return n - 1;
    }
    int kept = sort_candidates(s, logits, top_p_on && n > 1 ? (1.0f - s->top_p) / (n - 1) : 0.0f);
    if (top_p_on) {
        int nucleus = nucleus_size(s, kept);
        if (nucleus == 0 && n > 1) {  /* rounding left the filtered candidates short of p: use them all */
            kept = sort_candidates(s, logits, 0.0f);
            nucleus = nucleus_size(s, kept);
        }
        if (nucleus > 0) kept = nucleus;
    }
    float mass = 0.0f;
    for (int i = 0; i < kept; i++) mass += s->candidates[i].prob;
    coin *= mass;
    float cdf = 0.0f;
    for (int i = 0; i < kept; i++) {
        cdf += s->candidates[i].prob;
        if (coin < cdf) return s->candidates[i].id;
    }
    return s->candidates[kept - 1].id;
}

/* ----------------------------------------------------------------------------------------------------
 * Generation and the command line. */

typedef struct {
    const char *model_path, *tokenizer_path, *input;
    float temperature, top_p;
    int top_k, steps;
    uint64_t seed;
    int mode;  /* -1: the model file's */
} Options;

static void usage(FILE *out) {
    fprintf(out,
            "Usage:   run <model.bin> [options]\n"
            "Example: run out/model.bin -i \"Write a story about a dragon who is afraid of the dark\"\n"
            "Options:\n"
            "  -t <float>  temperature in [0, inf), 0 = greedy (default 1.0)\n"
            "  -p <float>  top-p (nucleus) sampling in [0, 1], 0 or 1 = off (default 0.9)\n"
            "  -k <int>    top-k sampling, 0 = off (default 0)\n"
            "  -s <int>    random seed, 0 = from the clock (default 0)\n"
            "  -n <int>    positions to run, prompt included, 0 = the model's context (default 256)\n"
            "  -i <string> input: the instruction, or the start of the story; - reads stdin\n"
            "  -z <string> tokenizer.bin (default: the one beside the model, then ./tokenizer.bin)\n"
            "  -m <string> instruct | generate | encode (default: what the model was trained for);\n"
            "              encode prints the input's token ids and exits\n");
}

static float parse_float(const char *flag, const char *value) {
    char *end;
    errno = 0;
    float v = strtof(value, &end);
    if (end == value || *end || errno || !isfinite(v)) usage_error("%s expects a number, got '%s'", flag, value);
    return v;
}

static int parse_int(const char *flag, const char *value) {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (end == value || *end || errno || v < 0 || v > INT32_MAX)
        usage_error("%s expects a whole number >= 0, got '%s'", flag, value);
    return (int)v;
}

static int is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

static void help(void) {
    usage(stdout);
    exit(EXIT_SUCCESS);
}

/* A bad command line exits with status 2 (usage_error); -h, first or in a flag's place, prints help. */
static Options parse_options(int argc, char **argv) {
    if (argc >= 2 && is_help(argv[1])) help();
    if (argc < 2) {
        usage(stderr);
        exit(EXIT_USAGE);
    }
    Options o = {argv[1], NULL, "", 1.0f, 0.9f, 0, 256, 0, -1};
    if (argv[1][0] == '-')
        usage_error("the first argument must be the model file, got '%s' (run with -h for help)", argv[1]);
    for (int i = 2; i < argc; i += 2) {
        const char *flag = argv[i];
        if (is_help(flag)) help();
        if (flag[0] != '-' || strlen(flag) != 2 || !strchr("tpksnizm", flag[1]))
            usage_error("unknown option '%s' (run with -h for help)", flag);
        if (i + 1 >= argc) usage_error("%s needs a value (run with -h for help)", flag);
        const char *value = argv[i + 1];
        switch (flag[1]) {
        case 't': o.temperature = parse_float(flag, value); break;
        case 'p': o.top_p = parse_float(flag, value); break;
        case 'k': o.top_k = parse_int(flag, value); break;
        case 'n': o.steps = parse_int(flag, value); break;
        case 'i': o.input = value; break;
        case 'z': o.tokenizer_path = value; break;
        case 's': {
            char *end;
            errno = 0;
            unsigned long long seed = strtoull(value, &end, 10);
            if (value[0] == '-' || end == value || *end || errno)
                usage_error("-s expects a whole number >= 0, got '%s'", value);
            o.seed = seed;
            break;
        }
        case 'm':
            if (strcmp(value, "instruct") == 0) o.mode = MODE_INSTRUCT;
            else if (strcmp(value, "generate") == 0) o.mode = MODE_GENERATE;
            else if (strcmp(value, "encode") == 0) o.mode = MODE_ENCODE;
            else usage_error("-m expects instruct, generate or encode, got '%s'", value);
            break;
        }
    }
    if (o.temperature < 0) usage_error("-t must not be negative, got %g", o.temperature);
    if (o.top_p < 0 || o.top_p > 1) usage_error("-p must be in [0, 1], got %g", o.top_p);
    return o;
}

/* -z, else tokenizer.bin beside the model, else ./tokenizer.bin. Returns a malloc'd path. */
static char *find_tokenizer(const Options *o) {
    if (o->tokenizer_path) return strdup(o->tokenizer_path);
    const char *slash = strrchr(o->model_path, '/');
    size_t dir_len = slash ? (size_t)(slash - o->model_path + 1) : 0;
    char *beside = checked_calloc(dir_len + sizeof "tokenizer.bin", 1, "a path");
    memcpy(beside, o->model_path, dir_len);
    strcpy(beside + dir_len, "tokenizer.bin");
    if (access(beside, R_OK) == 0) return beside;
    free(beside);
    if (access("tokenizer.bin", R_OK) == 0) return strdup("tokenizer.bin");
    die("no tokenizer.bin beside %s or in the current directory; pass one with -z", o->model_path);
    return NULL;
}

enum { MAX_INPUT_BYTES = 1 << 24 };

/* The input text: -i's value, or all of stdin for "-i -". Sets *len; the text may hold NUL bytes. */
static char *read_input(const char *value, size_t *len) {
    if (strcmp(value, "-") != 0) {
        *len = strlen(value);
        char *text = checked_calloc(*len + 1, 1, "the input");
        memcpy(text, value, *len);
        return text;
    }
    size_t cap = 1 << 12, n = 0;
    char *text = checked_calloc(cap, 1, "the input");
    for (;;) {
        n += fread(text + n, 1, cap - n, stdin);
        if (ferror(stdin)) die("cannot read the input from stdin: %s", strerror(errno));
        if (feof(stdin)) break;
        if (cap >= MAX_INPUT_BYTES) die("the input on stdin is longer than %d bytes", MAX_INPUT_BYTES);
        char *bigger = realloc(text, cap * 2);
        if (!bigger) die("out of memory reading stdin");
        text = bigger, cap *= 2;
    }
    *len = n;
    return text;
}

/* Whether text is empty or only ASCII whitespace, as Python's str.isspace sees it. */
static int is_blank(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (!(ch == ' ' || (ch >= '\t' && ch <= '\r') || (ch >= 0x1C && ch <= 0x1F))) return 0;
    }
    return 1;
}

/* Runs the model on the prompt and prints the story: the prompt too in generate mode. */
static void generate(const Model *model, const Tokenizer *tokenizer, const Options *o, Mode mode, const char *text,
                     size_t text_len) {
    const Config *c = &model->config;
    /* instruct: EOS + prompt + BOS, the way instruction examples sit in the packed training data;
     * generate: BOS + text. */
    if (mode == MODE_INSTRUCT && is_blank(text, text_len))
        die("instruct mode needs an instruction: -i \"Write a story about ...\"");
    int *ids = checked_calloc(text_len + 3, sizeof(int), "the prompt's tokens");
    int n_prompt = encode(tokenizer, text, text_len, ids + 1) + 1;
    ids[0] = mode == MODE_INSTRUCT ? c->eos_id : c->bos_id;
    if (mode == MODE_INSTRUCT) ids[n_prompt++] = c->bos_id;
    if (n_prompt >= c->seq_len) die("the prompt is %d tokens; the model's context is %d", n_prompt, c->seq_len);

    /* Like llama2.c, -n counts positions including the prompt: the token sampled at the last position
     * is printed but never fed back. Output also stops when prompt plus output fill the context. */
    int budget = c->seq_len - n_prompt;
    if (o->steps > 0 && o->steps - n_prompt + 1 < budget) budget = o->steps - n_prompt + 1;
    if (budget < 0) budget = 0;
    RunState state;
    build_state(&state, c, budget > 0 ? n_prompt + budget - 1 : n_prompt);
    Sampler sampler = {c->vocab_size, o->temperature, o->top_p, o->top_k, o->seed ? o->seed : (uint64_t)time(NULL),
                       checked_calloc(c->vocab_size, sizeof(ProbId), "the sampler")};
    TextWriter writer = {.t = tokenizer, .at_start = 1};
    if (mode == MODE_GENERATE)
        for (int i = 1; i < n_prompt; i++) write_token(&writer, ids[i]);

    double start = 0.0;
    int generated = 0;
    if (budget > 0) {
        int pos = 0;
        for (; pos < n_prompt - 1; pos++) forward(model, &state, ids[pos], pos);
        int token = ids[n_prompt - 1];
        for (;;) {
            float *logits = forward(model, &state, token, pos);
            if (generated == 0) start = now_seconds();  /* time the steady state, like llama2.c */
            int next = sample(&sampler, logits);
            generated++;
            if (next == c->eos_id || (mode == MODE_GENERATE && next == c->bos_id)) break;
            write_token(&writer, next);
            if (generated == budget) break;
            token = next, pos++;
        }
    }
    flush_bytes(&writer, 1);
    printf("\n");
    fflush(stdout);
    if (generated > 1) fprintf(stderr, "achieved tok/s: %.1f\n", (generated - 1) / (now_seconds() - start));
    free(ids), free(sampler.candidates);
    free_state(&state);
}

int main(int argc, char **argv) {
    const uint32_t one = 1;
    if (*(const unsigned char *)&one != 1) die("run reads little-endian files and this machine is big-endian");
    Options o = parse_options(argc, argv);
    choose_kernel();
    init_nf4_tables();

    Model model;
    build_model(&model, o.model_path);
    char *tokenizer_path = find_tokenizer(&o);
    Tokenizer tokenizer;
    build_tokenizer(&tokenizer, tokenizer_path, &model.config, o.model_path);
    size_t text_len;
    char *text = read_input(o.input, &text_len);
    long bad = utf8_first_invalid(text, text_len);
    if (bad >= 0) die("the input is not valid UTF-8 (byte %ld); pass UTF-8 text", bad);

    Mode mode = o.mode >= 0 ? (Mode)o.mode : model.config.mode;
    if (mode == MODE_ENCODE) {
        int *ids = checked_calloc(text_len + 1, sizeof(int), "the input's tokens");
        int n = encode(&tokenizer, text, text_len, ids);
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        free(ids);
    } else {
        generate(&model, &tokenizer, &o, mode, text, text_len);
    }
    free(text), free(tokenizer_path);
    free_tokenizer(&tokenizer);
    free_model(&model);
    return 0;
}
