/* kill -9 at random points of a stateful word count fed from Kafka (kafka-kill-child.c), on
 * the real broker: right after a batch is asked for (while it fetches or starts), a random
 * few milliseconds into it, and right after it is done (while its checkpoint is written off
 * the batch thread, or between batches). After each kill the program is started again on the
 * same directories; it commits nothing to its group and starts at the log start, so only the
 * checkpoint tells it where it was. At the end every batch's saveAsTextFiles output, running
 * totals included, is exactly that of a run never killed: no message lost, none counted
 * twice, no batch's output duplicated. The kill points come from a seed (EMBER_KILL_SEED, else
 * a random one) that every failure names. */
#include "kafka-real.h"

#include <ftw.h>

#define CHILD EMBER_BUILD_ROOT "/tests/kafka-kill-child"

enum { BATCHES = 12, PER_BATCH = 4, KILLS = 22 };

static char *tmp;
static guint32 seed;
static real_kafka broker; /* stopped by the teardown, also when an assertion ends the test */

static void setup(void)
{
    tmp = g_dir_make_tmp("ember-kafkakill-XXXXXX", NULL);
    cr_assert(tmp);
    const char *env = g_getenv("EMBER_KILL_SEED");
    seed = env ? (guint32)g_ascii_strtoull(env, NULL, 10) : g_random_int();
    signal(SIGPIPE, SIG_IGN); /* a write to a killed program's stdin fails instead */
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    if (broker.pid > 0)
        real_kafka_stop(&broker);
    nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    g_free(tmp);
}

TestSuite(kafka_kill, .init = setup, .fini = teardown);

/* Message i's value: a few words over a small vocabulary. */
static char *line_of(int i) { return g_strdup_printf("w%d w%d common", (i * 7) % 5, i % 3); }

static void produce_input(const char *brokers, const char *topic)
{
    rd_kafka_t *rk = raw_producer(brokers, NULL);
    for (int i = 0; i < BATCHES * PER_BATCH; i++) {
        g_autofree char *v = line_of(i);
        produce(rk, topic, 0, NULL, v);
    }
    produce_flush(rk);
    rd_kafka_destroy(rk);
}

typedef struct {
    const char *brokers, *topic;
    char *checkpoint, *prefix;
} run_dirs;

static run_dirs make_dirs(const char *brokers, const char *topic)
{
    return (run_dirs){brokers, topic, g_build_filename(tmp, topic, "ck", NULL),
                      g_build_filename(tmp, topic, "out", NULL)};
}

static void free_dirs(run_dirs *d) { g_free(d->checkpoint), g_free(d->prefix); }

typedef struct {
    GPid pid;
    FILE *in, *out;
    long long recovered;
} child;

static child start(const run_dirs *d)
{
    char per[16];
    snprintf(per, sizeof per, "%d", PER_BATCH);
    char *argv[] = {CHILD, (char *)d->brokers, (char *)d->topic, per, d->checkpoint, d->prefix,
                    NULL};
    child c;
    int in_fd, out_fd;
    GError *err = NULL;
    cr_assert(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                       &c.pid, &in_fd, &out_fd, NULL, &err),
              "%s", err ? err->message : "");
    c.in = fdopen(in_fd, "w");
    c.out = fdopen(out_fd, "r");
    long long t;
    char line[64];
    cr_assert(fgets(line, sizeof line, c.out), "the child did not start (seed %u)", seed);
    cr_assert_eq(sscanf(line, "start %lld", &t), 1, "%s (seed %u)", line, seed);
    c.recovered = t;
    return c;
}

static void advance(child *c)
{
    fputs("advance\n", c->in);
    fflush(c->in);
}

static void expect_done(child *c, int k)
{
    long long t = 0;
    char line[64];
    cr_assert(fgets(line, sizeof line, c->out), "no answer for batch %d (seed %u)", k, seed);
    cr_assert_eq(sscanf(line, "done %lld", &t), 1, "%s (seed %u)", line, seed);
    cr_assert_eq(t, (long long)k * 1000, "seed %u", seed);
}

static void kill_child(child *c)
{
    kill(c->pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the child ended by itself before its kill (status %d, seed %u)", status, seed);
    fclose(c->in), fclose(c->out);
}

static void finish(child *c)
{
    fclose(c->in); /* the end of its input: a graceful stop */
    int status;
    cr_assert_eq(waitpid(c->pid, &status, 0), c->pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d (seed %u)", status, seed);
    fclose(c->out);
}

typedef enum { AT_START, A_FEW_MS_IN, AFTER_DONE, N_KINDS } kill_kind;

typedef struct {
    int batch; /* killed in the first batch >= this one of whatever run is going then */
    kill_kind kind;
    int ms; /* A_FEW_MS_IN: how far in */
} kill_point;

/* n points at random batches, sorted, each kind n / 3 times or more in random order. */
static void plan_kills(GRand *rand, kill_point *plan, int n)
{
    for (int i = 0; i < n; i++)
        plan[i] = (kill_point){g_rand_int_range(rand, 1, BATCHES + 1), (kill_kind)(i % N_KINDS),
                               g_rand_int_range(rand, 0, 40)};
    for (int i = n - 1; i > 0; i--) { /* shuffle the kinds */
        int j = g_rand_int_range(rand, 0, i + 1);
        kill_kind k = plan[i].kind;
        plan[i].kind = plan[j].kind;
        plan[j].kind = k;
    }
    for (int i = 1; i < n; i++) /* sort by batch (insertion) */
        for (int j = i; j > 0 && plan[j].batch < plan[j - 1].batch; j--) {
            kill_point p = plan[j];
            plan[j] = plan[j - 1];
            plan[j - 1] = p;
        }
}

/* Runs the word count over BATCHES batches, killing it at plan[0..n). Returns how many kills
 * happened. */
static int run(const run_dirs *d, const kill_point *plan, int n_kills)
{
    int kills = 0;
    for (;;) {
        child c = start(d);
        int next = c.recovered < 0 ? 1 : (int)(c.recovered / 1000) + 1;
        cr_assert_leq(next, BATCHES + 1, "seed %u", seed);
        bool killed = false;
        for (int k = next; k <= BATCHES && !killed; k++) {
            advance(&c);
            if (kills < n_kills && plan[kills].batch <= k) {
                kill_kind kind = plan[kills].kind;
                /* The last batch, with kills still to come: killed before it can be done and
                 * checkpointed, or the restart would have no batch left to kill in. */
                if (k == BATCHES && kills + 1 < n_kills)
                    kind = AT_START;
                if (kind == A_FEW_MS_IN) /* a point inside the batch: on purpose */
                    g_usleep((gulong)plan[kills].ms * 1000);
                if (kind == AFTER_DONE)
                    expect_done(&c, k);
                kill_child(&c);
                kills++;
                killed = true;
            } else {
                expect_done(&c, k);
            }
        }
        if (!killed) {
            finish(&c);
            return kills;
        }
    }
}

static int by_text(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "<ms>: sorted records" per batch, from the saveAsTextFiles directories. */
static char *outputs(const run_dirs *d)
{
    GString *all = g_string_new(NULL);
    for (int k = 1; k <= BATCHES; k++) {
        g_autofree char *path = g_strdup_printf("%s-%d", d->prefix, k * 1000);
        GDir *dir = g_dir_open(path, 0, NULL);
        cr_assert(dir, "no output for batch %d (seed %u)", k, seed);
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
        const char *name;
        bool success = false;
        while ((name = g_dir_read_name(dir))) {
            success = success || strcmp(name, "_SUCCESS") == 0;
            if (!g_str_has_prefix(name, "part-"))
                continue;
            g_autofree char *file = g_build_filename(path, name, NULL);
            g_autofree char *text = NULL;
            cr_assert(g_file_get_contents(file, &text, NULL, NULL));
            char **parts = g_strsplit(text, "\n", -1);
            for (char **p = parts; *p; p++)
                if (**p)
                    g_ptr_array_add(lines, g_strdup(*p));
            g_strfreev(parts);
        }
        g_dir_close(dir);
        cr_assert(success, "batch %d has no _SUCCESS (seed %u)", k, seed);
        g_ptr_array_sort(lines, by_text);
        g_string_append_printf(all, "%d:", k * 1000);
        for (guint i = 0; i < lines->len; i++)
            g_string_append_printf(all, " %s", (char *)lines->pdata[i]);
        g_string_append_c(all, '\n');
    }
    return g_string_free(all, FALSE);
}

/* The totals after the first `messages` messages, as the last batch prints them: "(word,n)"
 * sorted. */
static char *expected_totals(int messages)
{
    g_autoptr(GHashTable) counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < messages; i++) {
        g_autofree char *line = line_of(i);
        char **words = g_strsplit(line, " ", -1);
        for (char **w = words; *w; w++) {
            gpointer n = g_hash_table_lookup(counts, *w);
            g_hash_table_replace(counts, g_strdup(*w), GINT_TO_POINTER(GPOINTER_TO_INT(n) + 1));
        }
        g_strfreev(words);
    }
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, counts);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(items, g_strdup_printf("(%s,%d)", (char *)k, GPOINTER_TO_INT(v)));
    g_ptr_array_sort(items, by_text);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < items->len; i++)
        g_string_append_printf(s, " %s", (char *)items->pdata[i]);
    return g_string_free(s, FALSE);
}

Test(kafka_kill, kill_9_at_random_points_loses_nothing_and_outputs_nothing_twice)
{
    real_kafka_start(&broker);
    real_kafka *k = &broker;
    real_kafka_create_topic(k, "whole", 1);
    real_kafka_create_topic(k, "killed", 1);
    produce_input(k->bootstrap, "whole");
    produce_input(k->bootstrap, "killed");

    run_dirs whole = make_dirs(k->bootstrap, "whole");
    cr_assert_eq(run(&whole, NULL, 0), 0);
    g_autofree char *want = outputs(&whole);
    /* The run never killed counted every message once: its last batch holds the totals. */
    g_autofree char *totals = expected_totals(BATCHES * PER_BATCH);
    g_autofree char *last = g_strdup_printf("%d:%s\n", BATCHES * 1000, totals);
    cr_assert(g_str_has_suffix(want, last), "%s\nwant the totals%s", want, totals);

    GRand *rand = g_rand_new_with_seed(seed);
    kill_point plan[KILLS];
    plan_kills(rand, plan, KILLS);
    run_dirs killed = make_dirs(k->bootstrap, "killed");
    cr_assert_eq(run(&killed, plan, KILLS), KILLS, "seed %u", seed);
    g_autofree char *got = outputs(&killed);
    cr_assert_str_eq(got, want,
                     "seed %u: the batches' outputs after the kills\n%s\nare not those of the run "
                     "never killed\n%s",
                     seed, got, want);
    free_dirs(&whole);
    free_dirs(&killed);
    g_rand_free(rand);
}
