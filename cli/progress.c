/* cli/progress.c -- qemu-img's "-p" progress output.
 *
 * Follows QEMU's util/qemu-progress.c as qemu-img 7.2 drives it: each
 * report is "    (%3.2f/100%)" plus '\r' on stdout, flushed, and only when
 * the value moved more than `step` percent past the last report (0 and 100
 * always print).  The comparison is done in float like QEMU's, so the same
 * updates print.  (QEMU's SIGUSR1 report for disabled progress is not
 * implemented: it needs global state.)
 */
#include "cli.h"

void cli_progress_init(cli_progress *p, int enabled, float step)
{
    p->enabled = enabled;
    p->current = 0;
    p->step = step;
    p->out = stdout;
}

void cli_progress_set(cli_progress *p, float percent)
{
    if (percent > 100) {
        percent = 100;
    }
    if (!p->enabled) {
        return;
    }
    if (percent > p->current + p->step || percent == 100 || percent == 0) {
        p->current = percent;
        fprintf(p->out, "    (%3.2f/100%%)\r", (double)percent);
        fflush(p->out);
    }
}

void cli_progress_end(cli_progress *p)
{
    if (p->enabled) {
        fputc('\n', p->out);
    }
}

void cli_progress_finish(cli_progress *p)
{
    cli_progress_set(p, 100);
    cli_progress_end(p);
}
