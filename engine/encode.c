/*
 * encode.c: the column encodings of encode.h.
 *
 * Formats (n == 0 always encodes to zero bytes, and every decoder insists
 * on consuming exactly len bytes, so trailing garbage is corruption):
 *
 *   ts      zz(v0), zz(v1 - v0), then zz(delta - previous delta) ...
 *   i64/u64 zz(v0), zz(v1 - v0), ...
 *           (zz = zigzag varint; all arithmetic wraps in uint64, so any
 *           jump, INT64_MIN to INT64_MAX included, round-trips without UB)
 *   f64     mode byte, then
 *             RAW      n little-endian 8-byte words
 *             DECIMAL  scale s (0..9), then m_i as i64 above; v_i = m_i / 10^s
 *             XOR      bit stream (Gorilla): 64 raw bits, then per value
 *                      0 (same bits) | 10 + window bits (previous window)
 *                      | 11 + lead:6 + (len-1):6 + len bits
 *           the encoder tries decimal and xor and keeps the smallest.
 *   bool    bitmap, LSB first, padding bits zero
 *   bitmap  the input bitmap's (n+7)/8 bytes, bits past n cleared
 *   str     mode byte, then
 *             PLAIN  n length varints, then all bytes back to back
 *             DICT   k, k x (length varint, bytes), id width w (0..31),
 *                    n ids of w bits each (bit stream, LSB first)
 *
 * Bit streams are LSB first and padded with zero bits to a whole byte.
 * Decoders validate every length against the input before touching memory
 * and never allocate more than the input can justify, except the string
 * decoder, whose output is as big as the strings it describes.
 */
#include "encode.h"

#include <math.h>
#include <string.h>

#include "vigil/vg_alloc.h"
#include "vigil/vg_error.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "encode.c writes raw words in host order and needs a little-endian host"
#endif

enum { F64_RAW = 0, F64_DECIMAL = 1, F64_XOR = 2 };
enum { STR_PLAIN = 0, STR_DICT = 1 };

#define VARINT_MAX 10
#define DECIMAL_MAX_SCALE 9

static const double pow10_tab[DECIMAL_MAX_SCALE + 1] = {1e0, 1e1, 1e2, 1e3, 1e4,
                                                        1e5, 1e6, 1e7, 1e8, 1e9};

/* Room for n varints plus extra bytes; fails cleanly when n * 10 overflows. */
static int reserve_varints(vg_buf_t *out, size_t n, size_t extra)
{
    if (n > (SIZE_MAX - extra) / VARINT_MAX)
        return VG_ENOMEM;
    return vg_buf_reserve(out, n * VARINT_MAX + extra);
}

/* ---------------------------------------------------------------- bits --- */

typedef struct bitw {
    uint8_t *p;
    uint64_t acc; /* pending bits, the oldest in bit 0 */
    unsigned n;   /* pending bit count, < 32 between calls */
} bitw_t;

/* Append the k low bits of v (k <= 32, v < 2^k). The caller reserved room. */
static inline void bw_put(bitw_t *w, uint64_t v, unsigned k)
{
    w->acc |= v << w->n;
    w->n += k;
    if (w->n >= 32) {
        uint32_t lo = (uint32_t)w->acc;
        memcpy(w->p, &lo, 4);
        w->p += 4;
        w->acc >>= 32;
        w->n -= 32;
    }
}

static inline void bw_put64(bitw_t *w, uint64_t v, unsigned k)
{
    if (k > 32) {
        bw_put(w, v & 0xffffffffu, 32);
        bw_put(w, v >> 32, k - 32);
    } else {
        bw_put(w, v, k);
    }
}

static inline void bw_flush(bitw_t *w)
{
    while (w->n > 0) {
        *w->p++ = (uint8_t)w->acc;
        w->acc >>= 8;
        w->n = w->n > 8 ? w->n - 8 : 0;
    }
}

typedef struct bitr {
    const uint8_t *p, *start, *end;
    uint64_t acc; /* bits above n may hold a copy of upcoming input bits */
    unsigned n;   /* valid bits in acc */
} bitr_t;

static inline void br_init(bitr_t *r, const uint8_t *p, const uint8_t *end)
{
    r->p = r->start = p;
    r->end = end;
    r->acc = 0;
    r->n = 0;
}

/* Top acc up to at least 56 bits when the input allows. The 8-byte path
 * may load bits past n; they are the true next input bits, and a later
 * refill ORs the same bits into the same places. */
static inline void br_refill(bitr_t *r)
{
    if (r->end - r->p >= 8) {
        uint64_t w;
        memcpy(&w, r->p, 8);
        r->acc |= w << r->n;
        r->p += (63 - r->n) >> 3;
        r->n |= 56;
    } else {
        while (r->n <= 56 && r->p < r->end) {
            r->acc |= (uint64_t)*r->p++ << r->n;
            r->n += 8;
        }
    }
}

/* Read k <= 56 bits into *v; -1 when the input ends first. */
static inline int br_get(bitr_t *r, unsigned k, uint64_t *v)
{
    if (r->n < k) {
        br_refill(r);
        if (r->n < k)
            return -1;
    }
    *v = r->acc & ((UINT64_C(1) << k) - 1);
    r->acc >>= k;
    r->n -= k;
    return 0;
}

static inline int br_get64(bitr_t *r, unsigned k, uint64_t *v)
{
    if (k <= 32)
        return br_get(r, k, v);
    uint64_t lo, hi;
    if (br_get(r, 32, &lo) || br_get(r, k - 32, &hi))
        return -1;
    *v = lo | hi << 32;
    return 0;
}

/* True when the stream was read up to its last (padding) byte exactly. */
static inline int br_at_end(const bitr_t *r)
{
    uint64_t used = (uint64_t)(r->p - r->start) * 8 - r->n;
    return (used + 7) / 8 == (uint64_t)(r->end - r->start);
}

/* ------------------------------------------------------------ integers --- */

/* Empty input is the encoding of n == 0 and of nothing else. */
#define DECODE_EMPTY_CHECK(len, n)                                   \
    do {                                                             \
        if ((len) == 0 || (n) == 0)                                  \
            return ((len) == 0 && (n) == 0) ? VG_OK : VG_ECORRUPT;   \
    } while (0)

static int enc_delta(const uint64_t *v, size_t n, vg_buf_t *out)
{
    int rc = reserve_varints(out, n, 0);
    if (rc)
        return rc;
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        vg_buf_put_uvarint(out, vg_zigzag((int64_t)(v[i] - prev)));
        prev = v[i];
    }
    return VG_OK;
}

static int dec_delta(const uint8_t *p, size_t len, size_t n, uint64_t *out)
{
    DECODE_EMPTY_CHECK(len, n);
    const uint8_t *end = p + len;
    uint64_t prev = 0, z;
    for (size_t i = 0; i < n; i++) {
        if (vg_uvarint_read(&p, end, &z))
            return VG_ECORRUPT;
        prev += (uint64_t)vg_unzigzag(z);
        out[i] = prev;
    }
    return p == end ? VG_OK : VG_ECORRUPT;
}

/* int64_t and uint64_t may alias each other (C11 6.5p7), so the signed
 * columns share the unsigned code. */
int vg_enc_i64(const int64_t *v, size_t n, vg_buf_t *out)
{
    return enc_delta((const uint64_t *)v, n, out);
}

int vg_dec_i64(const uint8_t *p, size_t len, size_t n, int64_t *out)
{
    return dec_delta(p, len, n, (uint64_t *)out);
}

int vg_enc_u64(const uint64_t *v, size_t n, vg_buf_t *out)
{
    return enc_delta(v, n, out);
}

int vg_dec_u64(const uint8_t *p, size_t len, size_t n, uint64_t *out)
{
    return dec_delta(p, len, n, out);
}

int vg_enc_ts(const int64_t *v, size_t n, vg_buf_t *out)
{
    int rc = reserve_varints(out, n, 0);
    if (rc || n == 0)
        return rc;
    uint64_t prev = (uint64_t)v[0], prevd = 0;
    vg_buf_put_uvarint(out, vg_zigzag(v[0]));
    for (size_t i = 1; i < n; i++) {
        uint64_t d = (uint64_t)v[i] - prev;
        vg_buf_put_uvarint(out, vg_zigzag((int64_t)(d - prevd)));
        prev = (uint64_t)v[i];
        prevd = d;
    }
    return VG_OK;
}

int vg_dec_ts(const uint8_t *p, size_t len, size_t n, int64_t *out)
{
    DECODE_EMPTY_CHECK(len, n);
    const uint8_t *end = p + len;
    uint64_t z;
    if (vg_uvarint_read(&p, end, &z))
        return VG_ECORRUPT;
    uint64_t prev = (uint64_t)vg_unzigzag(z), d = 0;
    out[0] = (int64_t)prev;
    for (size_t i = 1; i < n; i++) {
        if (vg_uvarint_read(&p, end, &z))
            return VG_ECORRUPT;
        d += (uint64_t)vg_unzigzag(z);
        prev += d;
        out[i] = (int64_t)prev;
    }
    return p == end ? VG_OK : VG_ECORRUPT;
}

/* ------------------------------------------------------------- float64 --- */

static inline uint64_t f64_bits(double x)
{
    uint64_t b;
    memcpy(&b, &x, 8);
    return b;
}

static inline double f64_from_bits(uint64_t b)
{
    double x;
    memcpy(&x, &b, 8);
    return x;
}

/*
 * Is x exactly m / 10^s for an integer |m| < 2^53, in the sense that the
 * decoder's (double)m / 10^s gives back x's bits? The product x * 10^s is
 * within an ulp of m, so truncating gives m or its neighbour towards zero;
 * both are tried and the division decides. NaN, infinities, -0.0 and
 * values too big all fail.
 */
static inline int decimal_fits(double x, int s, int64_t *m)
{
    double y = x * pow10_tab[s];
    if (!(fabs(y) < 9007199254740992.0))
        return 0;
    int64_t t = (int64_t)y;
    uint64_t want = f64_bits(x);
    if (f64_bits((double)t / pow10_tab[s]) == want) {
        *m = t;
        return 1;
    }
    t += y > (double)t ? 1 : -1;
    if (f64_bits((double)t / pow10_tab[s]) == want) {
        *m = t;
        return 1;
    }
    return 0;
}

/* The smallest common scale that fits every value, or -1. A value that
 * fits at scale s almost always fits at larger ones; the encoding pass
 * checks again and gives up on the rare exception. */
static int decimal_scale(const double *v, size_t n)
{
    int s = 0;
    int64_t m;
    for (size_t i = 0; i < n; i++) {
        while (!decimal_fits(v[i], s, &m)) {
            if (++s > DECIMAL_MAX_SCALE)
                return -1;
        }
    }
    return s;
}

/* Appends the DECIMAL form; returns 1 (out unchanged) when a value does
 * not fit scale s after all. */
static int enc_f64_decimal(const double *v, size_t n, int s, vg_buf_t *out)
{
    size_t start = out->len;
    int rc = reserve_varints(out, n, 2);
    if (rc)
        return rc;
    vg_buf_put_u8(out, F64_DECIMAL);
    vg_buf_put_u8(out, (uint8_t)s);
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t m;
        if (!decimal_fits(v[i], s, &m)) {
            out->len = start;
            return 1;
        }
        vg_buf_put_uvarint(out, vg_zigzag((int64_t)((uint64_t)m - prev)));
        prev = (uint64_t)m;
    }
    return VG_OK;
}

static int enc_f64_xor(const double *v, size_t n, vg_buf_t *out)
{
    /* Worst case 78 bits a value, plus the mode byte and a 4-byte flush. */
    int rc = reserve_varints(out, n, 16);
    if (rc)
        return rc;
    vg_buf_put_u8(out, F64_XOR);
    bitw_t w = {out->p + out->len, 0, 0};
    uint64_t prev = f64_bits(v[0]);
    bw_put64(&w, prev, 64);
    unsigned wlead = 0, wtrail = 0, wlen = 0; /* wlen 0: no window yet */
    for (size_t i = 1; i < n; i++) {
        uint64_t cur = f64_bits(v[i]), x = cur ^ prev;
        prev = cur;
        if (x == 0) {
            bw_put(&w, 0, 1);
            continue;
        }
        unsigned lead = (unsigned)__builtin_clzll(x), trail = (unsigned)__builtin_ctzll(x);
        unsigned len = 64 - lead - trail;
        /* Reuse the window when it holds x and costs no more than a new
         * 12-bit header would save. */
        if (wlen && lead >= wlead && trail >= wtrail && wlen <= len + 12) {
            bw_put(&w, 1, 2);
            bw_put64(&w, x >> wtrail, wlen);
        } else {
            bw_put(&w, 3u | lead << 2 | (len - 1) << 8, 14);
            bw_put64(&w, x >> trail, len);
            wlead = lead;
            wtrail = trail;
            wlen = len;
        }
    }
    bw_flush(&w);
    out->len = (size_t)(w.p - out->p);
    return VG_OK;
}

static int enc_f64_raw(const double *v, size_t n, vg_buf_t *out)
{
    int rc = vg_buf_reserve(out, 1 + n * 8);
    if (rc)
        return rc;
    vg_buf_put_u8(out, F64_RAW);
    vg_buf_put(out, v, n * 8);
    return VG_OK;
}

int vg_enc_f64(const double *v, size_t n, vg_buf_t *out)
{
    if (n == 0)
        return VG_OK;
    if (n > (SIZE_MAX - 16) / VARINT_MAX)
        return VG_ENOMEM;
    size_t start = out->len, dec_len = SIZE_MAX;
    int s = decimal_scale(v, n);
    if (s >= 0) {
        int rc = enc_f64_decimal(v, n, s, out);
        if (rc < 0)
            return rc;
        if (rc == 0)
            dec_len = out->len - start;
    }
    /* XOR needs at least 9 bytes plus a bit a value: skip it when the
     * decimal form is already that small. */
    if (dec_len <= 9 + (n - 1) / 8)
        return VG_OK;
    size_t xstart = out->len;
    int rc = enc_f64_xor(v, n, out);
    if (rc) {
        out->len = start;
        return rc;
    }
    size_t xor_len = out->len - xstart, raw_len = 1 + n * 8;
    if (raw_len < xor_len && raw_len < dec_len) {
        out->len = start;
        return enc_f64_raw(v, n, out);
    }
    if (dec_len <= xor_len) {
        out->len = start + dec_len;
    } else {
        memmove(out->p + start, out->p + xstart, xor_len);
        out->len = start + xor_len;
    }
    return VG_OK;
}

static int dec_f64_decimal(const uint8_t *p, const uint8_t *end, size_t n, double *out)
{
    if (p >= end || *p > DECIMAL_MAX_SCALE)
        return VG_ECORRUPT;
    double scale = pow10_tab[*p++];
    uint64_t m = 0, z;
    for (size_t i = 0; i < n; i++) {
        if (vg_uvarint_read(&p, end, &z))
            return VG_ECORRUPT;
        m += (uint64_t)vg_unzigzag(z);
        out[i] = (double)(int64_t)m / scale;
    }
    return p == end ? VG_OK : VG_ECORRUPT;
}

static int dec_f64_xor(const uint8_t *p, const uint8_t *end, size_t n, double *out)
{
    bitr_t r;
    br_init(&r, p, end);
    uint64_t prev, c, x;
    if (br_get64(&r, 64, &prev))
        return VG_ECORRUPT;
    out[0] = f64_from_bits(prev);
    unsigned wtrail = 0, wlen = 0;
    for (size_t i = 1; i < n; i++) {
        if (br_get(&r, 1, &c))
            return VG_ECORRUPT;
        if (c) {
            if (br_get(&r, 1, &c))
                return VG_ECORRUPT;
            if (c) {
                uint64_t h;
                if (br_get(&r, 12, &h))
                    return VG_ECORRUPT;
                unsigned lead = (unsigned)(h & 63), len = (unsigned)(h >> 6) + 1;
                if (lead + len > 64)
                    return VG_ECORRUPT;
                wlen = len;
                wtrail = 64 - lead - len;
            } else if (wlen == 0) {
                return VG_ECORRUPT; /* window reused before one was set */
            }
            if (br_get64(&r, wlen, &x))
                return VG_ECORRUPT;
            prev ^= x << wtrail;
        }
        out[i] = f64_from_bits(prev);
    }
    return br_at_end(&r) ? VG_OK : VG_ECORRUPT;
}

int vg_dec_f64(const uint8_t *p, size_t len, size_t n, double *out)
{
    DECODE_EMPTY_CHECK(len, n);
    const uint8_t *end = p + len;
    switch (*p++) {
    case F64_RAW:
        if (n > SIZE_MAX / 8 || len - 1 != n * 8)
            return VG_ECORRUPT;
        memcpy(out, p, n * 8);
        return VG_OK;
    case F64_DECIMAL:
        return dec_f64_decimal(p, end, n, out);
    case F64_XOR:
        return dec_f64_xor(p, end, n, out);
    default:
        return VG_ECORRUPT;
    }
}

/* --------------------------------------------------------- bool, bitmap --- */

int vg_enc_bool(const uint8_t *v, size_t n, vg_buf_t *out)
{
    size_t nbytes = n / 8 + (n % 8 != 0);
    int rc = vg_buf_reserve(out, nbytes);
    if (rc)
        return rc;
    uint8_t *o = out->p + out->len;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        unsigned b = 0;
        for (unsigned k = 0; k < 8; k++)
            b |= (unsigned)(v[i + k] != 0) << k;
        *o++ = (uint8_t)b;
    }
    if (i < n) {
        unsigned b = 0;
        for (unsigned k = 0; i + k < n; k++)
            b |= (unsigned)(v[i + k] != 0) << k;
        *o++ = (uint8_t)b;
    }
    out->len += nbytes;
    return VG_OK;
}

int vg_dec_bool(const uint8_t *p, size_t len, size_t n, uint8_t *out)
{
    if (len != n / 8 + (n % 8 != 0))
        return VG_ECORRUPT;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        /* Spread the 8 bits of a byte over 8 bytes: replicate, keep bit k
         * in byte k, then turn each non-zero byte into 1. */
        uint64_t x = (uint64_t)p[i / 8] * UINT64_C(0x0101010101010101);
        x &= UINT64_C(0x8040201008040201);
        x = ((x + UINT64_C(0x7f7f7f7f7f7f7f7f)) >> 7) & UINT64_C(0x0101010101010101);
        memcpy(out + i, &x, 8);
    }
    for (; i < n; i++)
        out[i] = (uint8_t)((p[i / 8] >> (i % 8)) & 1);
    return VG_OK;
}

int vg_enc_bitmap(const uint8_t *bits, size_t n, vg_buf_t *out)
{
    size_t nbytes = n / 8 + (n % 8 != 0);
    int rc = vg_buf_reserve(out, nbytes);
    if (rc || nbytes == 0)
        return rc;
    vg_buf_put(out, bits, nbytes);
    if (n % 8)
        out->p[out->len - 1] &= (uint8_t)((1u << (n % 8)) - 1);
    return VG_OK;
}

int vg_dec_bitmap(const uint8_t *p, size_t len, size_t n, uint8_t *bits)
{
    size_t nbytes = n / 8 + (n % 8 != 0);
    if (len != nbytes)
        return VG_ECORRUPT;
    if (nbytes == 0)
        return VG_OK;
    memcpy(bits, p, nbytes);
    if (n % 8)
        bits[nbytes - 1] &= (uint8_t)((1u << (n % 8)) - 1);
    return VG_OK;
}

/* -------------------------------------------------------------- strings --- */

static uint64_t hash_bytes(const char *p, uint32_t len)
{
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ len, w;
    uint32_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * UINT64_C(0xbf58476d1ce4e5b9);
        h ^= h >> 31;
    }
    w = 0;
    if (i < len)
        memcpy(&w, p + i, len - i);
    h = (h ^ w) * UINT64_C(0x94d049bb133111eb);
    return h ^ (h >> 29);
}

/* A dictionary of a string column: entry j is value first[j]. */
typedef struct dict {
    uint32_t *ids;   /* n: the entry of each value */
    uint32_t *first; /* k: index of the entry's first occurrence */
    size_t k;
} dict_t;

static void dict_free(dict_t *d)
{
    vg_free(d->ids);
    vg_free(d->first);
}

/*
 * Build the dictionary while it stays under limit entries. Returns 1 when
 * it has limit entries or more (the plain form then wins), 0 with *d
 * filled, or VG_ENOMEM.
 */
static int dict_build(const char *const *ptrs, const uint32_t *lens, size_t n, size_t limit,
                      dict_t *d)
{
    size_t cap = 16;
    while (cap < 2 * limit)
        cap *= 2;
    uint32_t *slots = vg_calloc(cap, sizeof *slots); /* entry + 1; 0 = empty */
    uint64_t *hashes = vg_malloc(limit * sizeof *hashes);
    d->ids = vg_malloc(n * sizeof *d->ids);
    d->first = vg_malloc(limit * sizeof *d->first);
    d->k = 0;
    int rc = VG_ENOMEM;
    if (!slots || !hashes || !d->ids || !d->first)
        goto done;
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t h = hash_bytes(ptrs[i], lens[i]);
        size_t s = (size_t)h & (cap - 1);
        for (;; s = (s + 1) & (cap - 1)) {
            uint32_t e = slots[s];
            if (e == 0) {
                if (d->k + 1 >= limit) {
                    rc = 1;
                    break;
                }
                hashes[d->k] = h;
                d->first[d->k] = (uint32_t)i;
                slots[s] = (uint32_t)++d->k;
                d->ids[i] = (uint32_t)(d->k - 1);
                break;
            }
            uint32_t f = d->first[e - 1];
            if (hashes[e - 1] == h && lens[f] == lens[i] &&
                (lens[i] == 0 || memcmp(ptrs[f], ptrs[i], lens[i]) == 0)) {
                d->ids[i] = e - 1;
                break;
            }
        }
    }
done:
    vg_free(slots);
    vg_free(hashes);
    if (rc != 0)
        dict_free(d);
    return rc;
}

static int enc_str_dict(const char *const *ptrs, const uint32_t *lens, size_t n,
                        const dict_t *d, vg_buf_t *out)
{
    unsigned width = 0;
    while (width < 32 && (UINT64_C(1) << width) < d->k)
        width++;
    size_t bytes = 0;
    for (size_t j = 0; j < d->k; j++)
        bytes += lens[d->first[j]];
    size_t idbytes = (n * width + 7) / 8;
    int rc = reserve_varints(out, d->k + 1, 2 + bytes + idbytes + 8);
    if (rc)
        return rc;
    vg_buf_put_u8(out, STR_DICT);
    vg_buf_put_uvarint(out, d->k);
    for (size_t j = 0; j < d->k; j++) {
        uint32_t f = d->first[j];
        vg_buf_put_uvarint(out, lens[f]);
        if (lens[f])
            vg_buf_put(out, ptrs[f], lens[f]);
    }
    vg_buf_put_u8(out, (uint8_t)width);
    bitw_t w = {out->p + out->len, 0, 0};
    for (size_t i = 0; i < n; i++)
        bw_put(&w, d->ids[i], width);
    bw_flush(&w);
    out->len = (size_t)(w.p - out->p);
    return VG_OK;
}

static int enc_str_plain(const char *const *ptrs, const uint32_t *lens, size_t n, vg_buf_t *out)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += lens[i];
    int rc = bytes > SIZE_MAX - 1 ? VG_ENOMEM : reserve_varints(out, n, 1 + bytes);
    if (rc)
        return rc;
    vg_buf_put_u8(out, STR_PLAIN);
    for (size_t i = 0; i < n; i++)
        vg_buf_put_uvarint(out, lens[i]);
    for (size_t i = 0; i < n; i++) {
        if (lens[i])
            vg_buf_put(out, ptrs[i], lens[i]);
    }
    return VG_OK;
}

int vg_enc_str(const char *const *ptrs, const uint32_t *lens, size_t n, vg_buf_t *out)
{
    if (n == 0)
        return VG_OK;
    size_t limit = n / 2; /* dictionary when distinct values < n / 2 */
    if (limit >= 2 && n <= UINT32_MAX) {
        dict_t d;
        int rc = dict_build(ptrs, lens, n, limit, &d);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            rc = enc_str_dict(ptrs, lens, n, &d, out);
            dict_free(&d);
            return rc;
        }
    }
    return enc_str_plain(ptrs, lens, n, out);
}

static int dec_str_plain(const uint8_t *p, const uint8_t *end, size_t n, char **data,
                         uint32_t *offs)
{
    uint64_t total = 0, l;
    size_t avail = (size_t)(end - p);
    offs[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (vg_uvarint_read(&p, end, &l) || l > avail - total || total + l > UINT32_MAX)
            return VG_ECORRUPT;
        total += l;
        offs[i + 1] = (uint32_t)total;
    }
    if ((uint64_t)(end - p) != total)
        return VG_ECORRUPT;
    char *buf = vg_malloc(total ? total : 1);
    if (!buf)
        return VG_ENOMEM;
    if (total)
        memcpy(buf, p, total);
    *data = buf;
    return VG_OK;
}

/* Entries of a decoded dictionary point into the input. */
typedef struct dict_entry {
    const uint8_t *p;
    uint32_t len;
} dict_entry_t;

/* Reads the dictionary's entries and id width; leaves *pp at the ids. */
static int dec_dict_head(const uint8_t **pp, const uint8_t *end, size_t n, dict_entry_t **ents,
                         uint64_t *k_out, unsigned *width)
{
    const uint8_t *p = *pp;
    uint64_t k, l;
    /* Each entry takes at least one byte, so k is bounded by the input. */
    if (vg_uvarint_read(&p, end, &k) || k == 0 || k > n || k > (uint64_t)(end - p))
        return VG_ECORRUPT;
    dict_entry_t *e = vg_malloc((size_t)k * sizeof *e);
    if (!e)
        return VG_ENOMEM;
    for (uint64_t j = 0; j < k; j++) {
        if (vg_uvarint_read(&p, end, &l) || l > (uint64_t)(end - p) || l > UINT32_MAX) {
            vg_free(e);
            return VG_ECORRUPT;
        }
        e[j].p = p;
        e[j].len = (uint32_t)l;
        p += l;
    }
    if (p >= end || *p > 31 || (n > SIZE_MAX / 32)) {
        vg_free(e);
        return VG_ECORRUPT;
    }
    *width = *p++;
    if ((uint64_t)(end - p) != ((uint64_t)n * *width + 7) / 8) {
        vg_free(e);
        return VG_ECORRUPT;
    }
    *pp = p;
    *ents = e;
    *k_out = k;
    return VG_OK;
}

static int dec_str_dict(const uint8_t *p, const uint8_t *end, size_t n, char **data,
                        uint32_t *offs)
{
    dict_entry_t *e;
    uint64_t k, id, total = 0;
    unsigned width;
    int rc = dec_dict_head(&p, end, n, &e, &k, &width);
    if (rc)
        return rc;
    /* Pass 1 sizes the output and checks every id; pass 2 copies. */
    bitr_t r;
    br_init(&r, p, end);
    offs[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (br_get(&r, width, &id) || id >= k || total + e[id].len > UINT32_MAX) {
            vg_free(e);
            return VG_ECORRUPT;
        }
        total += e[id].len;
        offs[i + 1] = (uint32_t)total;
    }
    char *buf = vg_malloc(total ? total : 1);
    if (!buf) {
        vg_free(e);
        return VG_ENOMEM;
    }
    br_init(&r, p, end);
    for (size_t i = 0; i < n; i++) {
        (void)br_get(&r, width, &id);
        if (e[id].len)
            memcpy(buf + offs[i], e[id].p, e[id].len);
    }
    vg_free(e);
    *data = buf;
    return VG_OK;
}

int vg_dec_str(const uint8_t *p, size_t len, size_t n, char **data, uint32_t *offs)
{
    if (len == 0 || n == 0) {
        if (len != 0 || n != 0)
            return VG_ECORRUPT;
        offs[0] = 0;
        *data = vg_malloc(1);
        return *data ? VG_OK : VG_ENOMEM;
    }
    const uint8_t *end = p + len;
    switch (*p++) {
    case STR_PLAIN:
        return dec_str_plain(p, end, n, data, offs);
    case STR_DICT:
        return dec_str_dict(p, end, n, data, offs);
    default:
        return VG_ECORRUPT;
    }
}
