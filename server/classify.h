/*
 * classify.h: naming the kind of symptom an alert is (the seed's
 * "characterize the symptom"): the same group's latency, quality, refusal
 * rate, cost per request, error rates and injection signals against their
 * baselines, and the one class they point to.
 */
#ifndef VG_SERVER_CLASSIFY_H
#define VG_SERVER_CLASSIFY_H

#include <jansson.h>

#include "alert.h"
#include "vigil/vigil.h"
#include "vigil/vg_query.h"
#include "vigil/vg_result.h"

/*
 * {"class": "guardrail", "reason": "refusal rate 0.148 against 0.021 (7.0x)",
 *  "window_s": 1800, "numbers": {"refusal_rate": {"current", "baseline", "ratio"}, ...}}
 * Classes: infrastructure, model_or_prompt_regression, guardrail,
 * length_or_traffic, tool_or_api, security, or unclassified. The group is
 * the alert's labels that are tags of each table. Ownership: a new reference.
 */
json_t *vg_classify(vg_db_t *db, const vg_label_t *labels, size_t nlabels, int64_t now,
                    int64_t window_ns, const char *signal, int64_t timeout_ms);

/* A result cell as JSON (null for null and non-finite numbers). */
json_t *vg_cell_json(const vg_result_t *r, size_t row, size_t col);

#endif
