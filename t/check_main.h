/* The main of every check test program: runs one suite, reports in TAP on
 * stdout so the harness counts each test, exits non-zero on any failure. */
#ifndef MW_CHECK_MAIN_H
#define MW_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define CHECK_MAIN(suite_fn)                                                                      \
    int main(void)                                                                                \
    {                                                                                             \
        SRunner *sr = srunner_create(suite_fn());                                                 \
        srunner_set_tap(sr, "-");                                                                 \
        srunner_run_all(sr, CK_SILENT);                                                           \
        int failed = srunner_ntests_failed(sr);                                                   \
        srunner_free(sr);                                                                         \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                              \
    }

#endif
