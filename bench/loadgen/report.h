/* report: a run's figures, once for people and once as a RESULT line of
 * key=value pairs for the bench scripts.
 *   lg_report */
#ifndef MW_BENCH_REPORT_H
#define MW_BENCH_REPORT_H

#include <stdio.h>

#include "run.h"

void lg_report(FILE *f, const struct lg_run *r);

#endif
