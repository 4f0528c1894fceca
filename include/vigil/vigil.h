/*
 * vigil.h: the whole public C API of Vigil, a time-series store for the
 * behavioural metrics of LLM systems. Include this, link vigil_engine.
 */
#ifndef VIGIL_VIGIL_H
#define VIGIL_VIGIL_H

#include "vg_alloc.h"
#include "vg_db.h"
#include "vg_error.h"
#include "vg_lp.h"
#include "vg_types.h"

#define VIGIL_VERSION "0.1.0"

#endif
