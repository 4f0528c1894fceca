/*
 * sim_rng.c: the simulator's random numbers (sim_int.h): xoshiro256**
 * seeded by splitmix64, and the distributions the traffic model draws from
 * (normal, gamma, beta, weighted choice; lognormal and the uniform
 * primitives are inline in sim_int.h).
 *
 * Invariant: how many draws each function takes, and in which order, is
 * part of the output: a run is reproducible from its seed alone, and a
 * change to any of these functions changes every simulated byte after its
 * first call.
 */
#include <math.h>

#include "sim_int.h"

void vg__sim_rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
    r->has_spare = 0;
}

double vg__sim_normal(rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, q;
    do {
        u = 2.0 * unif(r) - 1.0;
        v = 2.0 * unif(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

/* Marsaglia-Tsang; shapes below 1 by the U^(1/shape) boost. Mean = shape. */
double vg__sim_gamma(rng_t *r, double shape)
{
    double boost = 1.0;
    if (shape < 1.0) {
        boost = pow(unif(r), 1.0 / shape);
        shape += 1.0;
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = vg__sim_normal(r), v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = unif(r);
        if (u < 1.0 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return boost * d * v;
    }
}

/* Beta(a, b) for small integer a, b: Gamma(k) = -log of a product of k uniforms. */
double vg__sim_beta_int(rng_t *r, int a, int b)
{
    double pa = 1.0, pb = 1.0;
    for (int i = 0; i < a; i++)
        pa *= unif(r);
    for (int i = 0; i < b; i++)
        pb *= unif(r);
    double ga = -log(pa), gb = -log(pb);
    return ga / (ga + gb);
}

/* Index drawn from weights w[0..n) that sum to 1 (the last takes any rest). */
int vg__sim_pick(rng_t *r, const double *w, int n)
{
    double u = unif(r);
    for (int i = 0; i < n - 1; i++) {
        if (u <= w[i])
            return i;
        u -= w[i];
    }
    return n - 1;
}
