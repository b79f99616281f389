/* The progress line of `strata import`: files, bytes and rate, redrawn in
 * place on one stderr line at most about ten times a second, only when
 * stderr is a terminal, and cleared at the end (or on Ctrl-C) so that the
 * summary and the shell prompt start on a clean line. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define CLI_PROGRESS_INTERVAL 0.1  /* seconds between redraws */
#define CLI_PROGRESS_DELAY    0.25 /* quick imports never draw at all */
#define CLI_CLEAR_LINE        "\r\033[K"

struct cli_progress {
    bool enabled;
    double start, last;
    pthread_mutex_t mu;
    struct sigaction old_int, old_term;
};

/* Whether a line is on screen; read by the signal handler. */
static volatile sig_atomic_t cli_line_shown;

/* On Ctrl-C or SIGTERM: wipe the half-drawn line, then die of the signal
 * as if there were no handler, so the caller sees the usual status. */
static void cli_progress_signal(int sig)
{
    if (cli_line_shown) {
        ssize_t r = write(STDERR_FILENO, CLI_CLEAR_LINE, sizeof(CLI_CLEAR_LINE) - 1);
        (void)r;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

cli_progress *cli_progress_new(bool enabled)
{
    cli_progress *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->enabled = enabled && isatty(STDERR_FILENO);
    p->start = p->last = cli_now();
    pthread_mutex_init(&p->mu, NULL);
    if (p->enabled) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = cli_progress_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &p->old_int);
        sigaction(SIGTERM, &sa, &p->old_term);
    }
    return p;
}

static void cli_progress_clear(void)
{
    if (cli_line_shown) {
        ssize_t r = write(STDERR_FILENO, CLI_CLEAR_LINE, sizeof(CLI_CLEAR_LINE) - 1);
        (void)r;
        cli_line_shown = 0;
    }
}

void cli_progress_update(void *ctx, const layer_import_stats *st, bool done)
{
    cli_progress *p = ctx;
    if (!p || !p->enabled)
        return;
    /* The importer calls from one thread, but a skipped frame costs nothing
     * while a torn line would show. */
    if (pthread_mutex_trylock(&p->mu) != 0)
        return;
    double now = cli_now();
    if (done) {
        cli_progress_clear();
    } else if (now - p->start >= CLI_PROGRESS_DELAY && now - p->last >= CLI_PROGRESS_INTERVAL) {
        p->last = now;
        char size[CLI_SIZE_LEN], line[160];
        int n = snprintf(line, sizeof(line),
                         CLI_CLEAR_LINE "importing: %" PRIu64 " file%s, %s (%.1f MB/s), %.1f s",
                         st->files, cli_plural(st->files), cli_human_size(st->bytes, size),
                         cli_mb_per_s(st->bytes, now - p->start), now - p->start);
        if (n > 0) {
            ssize_t r =
                write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
            (void)r;
            cli_line_shown = 1;
        }
    }
    pthread_mutex_unlock(&p->mu);
}

void cli_progress_free(cli_progress *p)
{
    if (!p)
        return;
    if (p->enabled) {
        cli_progress_clear();
        sigaction(SIGINT, &p->old_int, NULL);
        sigaction(SIGTERM, &p->old_term, NULL);
    }
    pthread_mutex_destroy(&p->mu);
    free(p);
}
