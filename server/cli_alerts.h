/*
 * cli_alerts.h: what the CLI's alerting commands share (backtest, demo):
 * loading runbooks against a folder's schema, replaying rules over stored
 * history, and printing alerts for a person.
 */
#ifndef VG_SERVER_CLI_ALERTS_H
#define VG_SERVER_CLI_ALERTS_H

#include <stdio.h>

#include "notify.h"
#include "rules.h"

/* Load and compile runbooks (files or folders); names are checked against
 * db's schema when db is not NULL. Problems are printed as file:line:column. */
int cli_load_runbooks(vg_db_t *db, const char *const *paths, size_t n, vg_rb_set_t *set);

/* The newest stored row's time (vigil_alerts aside); INT64_MIN when empty. */
int64_t cli_data_end(vg_db_t *db);

/* Evaluate every rule as of since, since + step, ... until (a rule whose
 * `every` is longer than step only when it is due), on `threads` threads;
 * with a notifier (may be NULL) on one, ticking it after each step. Event
 * handlers must write to cli_replay_out(out) and be thread-safe; what
 * they write reaches out in time order, then rule order (replay.c). */
int cli_replay(vg_rules_t *rules, int64_t since, int64_t until, int64_t step, unsigned threads,
               struct vg_notifier *notifier, FILE *out);
FILE *cli_replay_out(FILE *fallback);

/* One line: time, change, rule, labels, value. */
void cli_print_event(FILE *out, const vg_rule_event_t *ev);

/* A firing alert as the on-call engineer receives it: when, the numbers
 * against baseline, the classification, what changed, samples, the matched
 * branch of the runbook (alert_print.c). */
void cli_print_alert(FILE *out, const vg_alert_info_t *a, int64_t at);

#endif
