/* ember-shell: Spark's Streaming Programming Guide typed and run live on Ember, no compiler in
 * the loop. This file is the REPL around the interpreter: GNU readline (history, completion)
 * when stdin is a terminal, a script otherwise; `:` commands; statements spanning lines.
 *
 *   ember-shell [--manual-clock] [--master local[N]] [SCRIPT...]
 */
#include "shell.h"

#include <errno.h>
#include <poll.h>
#include <readline/history.h>
#include <readline/readline.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sh_shell *shell;
static int errors;

static const char help_text[] =
    "Type Scala as in Spark's Streaming Programming Guide, e.g.\n"
    "  val ssc = new StreamingContext(sc, Seconds(1))\n"
    "  val lines = ssc.socketTextStream(\"localhost\", 9999)\n"
    "  val wordCounts = lines.flatMap(_.split(\" \")).map(x => (x, 1)).reduceByKey(_ + _)\n"
    "  wordCounts.print()\n"
    "  ssc.start(); ssc.awaitTerminationOrTimeout(5000); ssc.stop()\n"
    "Commands:\n"
    "  :step [N]    advance the manual clock N batches (default 1) and wait for them\n"
    "  :manual      new StreamingContexts get a manual clock (as --manual-clock)\n"
    "  :graph       show the DStream graph of the last StreamingContext\n"
    "  :load FILE   run a script\n"
    "  :help        this text; :help values (or DStream, RDD, ...) lists methods\n"
    "  :quit        leave (also Ctrl-D)\n";

/* :help values, :help DStream, ...: the methods ember-shell knows. */
static void help_on(const char *topic)
{
    static const struct {
        const char *name;
        sh_obj_kind kind;
    } kinds[] = {{"DStream", O_DSTREAM}, {"RDD", O_RDD},     {"StreamingContext", O_SSC},
                 {"SparkContext", O_SC}, {"Queue", O_QUEUE}, {"StateSpec", O_STATESPEC},
                 {"SparkConf", O_CONF}};
    const char *const *names = NULL;
    if (!strcmp(topic, "values")) {
        fputs("Methods on records (String, Int, Double, Seq, Option, tuples) inside functions:\n",
              stdout);
        names = sh_value_method_names();
    } else if (!strcmp(topic, "State")) {
        fputs("Methods of mapWithState's State parameter:\n", stdout);
        names = sh_state_method_names();
    }
    for (size_t i = 0; i < G_N_ELEMENTS(kinds) && !names; i++)
        if (!strcmp(topic, kinds[i].name)) {
            printf("%s methods:\n", kinds[i].name);
            names = sh_api_method_names(kinds[i].kind);
        }
    if (!names) {
        fprintf(stderr, "error: :help takes values, State, DStream, RDD, StreamingContext, "
                        "SparkContext, Queue, StateSpec or SparkConf\n");
        errors++;
        return;
    }
    GString *line = g_string_new(" ");
    for (; *names; names++) {
        if (line->len + strlen(*names) > 96) {
            printf("%s\n", line->str);
            g_string_assign(line, " ");
        }
        g_string_append_printf(line, " %s", *names);
    }
    printf("%s\n", line->str);
    g_string_free(line, TRUE);
}

static void report(GError *err)
{
    fprintf(stderr, "%s\n", err->message);
    errors++;
}

static bool run_script(const char *path);

/* A `:` command; false to quit. */
static bool command(const char *line)
{
    char *trimmed = g_strstrip(g_strdup(line));
    char **w = g_strsplit_set(trimmed, " \t", 3);
    g_free(trimmed);
    const char *cmd = w[0];
    const char *arg = w[1];
    GError *err = NULL;
    bool go_on = true;
    if (!strcmp(cmd, ":step")) {
        gint64 n = 1;
        if (arg && !g_ascii_string_to_signed(arg, 10, 1, 1000000, &n, NULL)) {
            fprintf(stderr, "error: :step takes a number of batches (1 to 1000000), not %s\n",
                    arg);
            errors++;
        } else if (!sh_shell_step(shell, n, &err)) {
            report(err);
            g_error_free(err);
        }
    } else if (!strcmp(cmd, ":graph")) {
        char *g = sh_shell_graph(shell);
        fputs(g, stdout);
        fflush(stdout);
        g_free(g);
    } else if (!strcmp(cmd, ":manual")) {
        bool on = !arg || strcmp(arg, "off");
        sh_shell_set_manual(shell, on);
        fprintf(stderr, "new StreamingContexts get a %s clock\n", on ? "manual" : "system");
    } else if (!strcmp(cmd, ":load")) {
        if (!arg) {
            fprintf(stderr, "error: :load takes a file name\n");
            errors++;
        } else {
            run_script(arg);
        }
    } else if (!strcmp(cmd, ":help") && arg) {
        help_on(arg);
    } else if (!strcmp(cmd, ":help")) {
        fputs(help_text, stdout);
    } else if (!strcmp(cmd, ":quit") || !strcmp(cmd, ":q")) {
        go_on = false;
    } else {
        fprintf(stderr, "error: unknown command %s (try :help)\n", cmd);
        errors++;
    }
    g_strfreev(w);
    return go_on;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (!g_ascii_isspace(*s))
            return false;
    return true;
}

/* Whether the next line continues the statement before it (a line starting with '.'). */
static bool continues(const char *next)
{
    while (*next == ' ' || *next == '\t')
        next++;
    return next[0] == '.' && next[1] != '.';
}

/* Lines of a script: from text in memory, or read from a file descriptor as they arrive, so
 * that a piped session runs each statement as soon as it is complete. */
typedef struct line_source {
    char **lines; /* text: its lines */
    size_t i;
    int fd; /* or a descriptor (lines NULL) */
    GString *buf;
    bool eof;
    char *peeked;
} line_source;

/* Reads what the descriptor has; with wait, blocks until something (or the end) comes. */
static void fill(line_source *src, bool wait)
{
    if (src->eof)
        return;
    if (!wait) {
        struct pollfd p = {.fd = src->fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            return;
    }
    char chunk[4096];
    ssize_t n;
    do
        n = read(src->fd, chunk, sizeof chunk);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        src->eof = true;
    else
        g_string_append_len(src->buf, chunk, n);
}

/* The next line (the caller frees it), or NULL at the end; without wait, also NULL when no
 * whole line has arrived yet. */
static char *read_line(line_source *src, bool wait)
{
    if (src->lines)
        return src->lines[src->i] ? g_strdup(src->lines[src->i++]) : NULL;
    for (;;) {
        char *nl = memchr(src->buf->str, '\n', src->buf->len);
        if (nl) {
            char *line = g_strndup(src->buf->str, (size_t)(nl - src->buf->str));
            g_string_erase(src->buf, 0, nl - src->buf->str + 1);
            return line;
        }
        if (src->eof) {
            if (src->buf->len == 0)
                return NULL;
            char *line = g_strdup(src->buf->str);
            g_string_truncate(src->buf, 0);
            return line;
        }
        size_t had = src->buf->len;
        fill(src, wait);
        if (!wait && src->buf->len == had && !src->eof)
            return NULL;
    }
}

static const char *peek_line(line_source *src, bool wait)
{
    if (!src->peeked)
        src->peeked = read_line(src, wait);
    return src->peeked;
}

static char *take_line(line_source *src)
{
    char *line = src->peeked ? src->peeked : read_line(src, true);
    src->peeked = NULL;
    return line;
}

/* Runs a script as if typed: statements may span lines; a line starting with '.' continues
 * the statement before it when it comes with it. */
static bool run_lines(const char *name, line_source *src)
{
    GString *pending = g_string_new(NULL);
    int first = 0, number = 0;
    bool go_on = true;
    char *line;
    while (go_on && (line = take_line(src))) {
        number++;
        const char *t = line;
        while (*t == ' ' || *t == '\t')
            t++;
        if (pending->len == 0 && (blank(line) || (t[0] == ':' && g_ascii_isalpha(t[1])))) {
            if (!blank(line))
                go_on = command(t);
            g_free(line);
            continue;
        }
        if (pending->len == 0)
            first = number;
        g_string_append(pending, line);
        g_string_append_c(pending, '\n');
        g_free(line);
        const char *next = peek_line(src, false);
        if (next && continues(next))
            continue;
        GError *err = NULL;
        if (!sh_shell_complete(shell, pending->str, &err) && err->code == SH_ERROR_INCOMPLETE &&
            peek_line(src, true)) {
            g_clear_error(&err);
            continue;
        }
        g_clear_error(&err);
        if (!sh_shell_run(shell, name, first, pending->str, &err)) {
            report(err);
            g_error_free(err);
        }
        g_string_truncate(pending, 0);
    }
    g_string_free(pending, TRUE);
    return go_on;
}

static bool run_text(const char *name, const char *text)
{
    line_source src = {.lines = g_strsplit(text, "\n", -1)};
    bool go_on = run_lines(name, &src);
    g_strfreev(src.lines);
    g_free(src.peeked);
    return go_on;
}

static void run_stdin(void)
{
    line_source src = {.fd = STDIN_FILENO, .buf = g_string_new(NULL)};
    run_lines("<stdin>", &src);
    g_string_free(src.buf, TRUE);
    g_free(src.peeked);
}

static bool run_script(const char *path)
{
    char *text;
    GError *err = NULL;
    if (!g_file_get_contents(path, &text, NULL, &err)) {
        fprintf(stderr, "error: %s\n", err->message);
        g_error_free(err);
        errors++;
        return true;
    }
    bool go_on = run_text(path, text);
    g_free(text);
    return go_on;
}

/* ---- Interactive ---- */

static char **completion_matches;
static size_t completion_next;

static char *completion_generator(const char *text, int state)
{
    (void)text;
    if (!completion_matches || !completion_matches[completion_next])
        return NULL;
    (void)state;
    return strdup(completion_matches[completion_next++]);
}

static char **complete(const char *text, int start, int end)
{
    (void)end;
    g_strfreev(completion_matches);
    completion_matches = sh_shell_completions(shell, rl_line_buffer, start, text);
    completion_next = 0;
    rl_attempted_completion_over = 1;
    /* A method is followed by its argument list, not a space. */
    rl_completion_append_character = start > 0 && rl_line_buffer[start - 1] == '.' ? '\0' : ' ';
    return rl_completion_matches(text, completion_generator);
}

static void on_sigint(int sig)
{
    (void)sig;
    sh_interrupted = 1;
}

static void interactive(void)
{
    char *history = g_build_filename(g_get_home_dir(), ".ember_shell_history", NULL);
    using_history();
    read_history(history);
    rl_readline_name = "ember-shell";
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,.";
    signal(SIGINT, on_sigint);
    printf("ember-shell %s: Spark Streaming's guide on Ember. :help for help.\n"
           "sc is a SparkContext (%s).%s\n",
           EM_VERSION_STRING, em_context_master(sh_shell_sc(shell)),
           sh_shell_manual(shell) ? " New StreamingContexts get a manual clock (:step)." : "");
    GString *pending = g_string_new(NULL);
    for (;;) {
        char *line = readline(pending->len ? "     | " : "ember> ");
        if (!line)
            break;
        if (pending->len == 0 && blank(line)) {
            free(line);
            continue;
        }
        add_history(line);
        if (pending->len == 0 && line[0] == ':') {
            bool go_on = command(line);
            free(line);
            if (!go_on)
                break;
            continue;
        }
        g_string_append(pending, line);
        g_string_append_c(pending, '\n');
        free(line);
        GError *err = NULL;
        if (!sh_shell_complete(shell, pending->str, &err) && err->code == SH_ERROR_INCOMPLETE) {
            g_clear_error(&err);
            continue;
        }
        g_clear_error(&err);
        if (!sh_shell_run(shell, "<console>", 1, pending->str, &err)) {
            report(err);
            g_error_free(err);
        }
        g_string_truncate(pending, 0);
    }
    g_string_free(pending, TRUE);
    write_history(history);
    g_free(history);
    g_strfreev(completion_matches);
    putchar('\n');
}

int main(int argc, char **argv)
{
    gboolean manual = FALSE, help = FALSE;
    char *master = NULL;
    GOptionEntry entries[] = {
        {"manual-clock", 0, 0, G_OPTION_ARG_NONE, &manual,
         "StreamingContexts run on a manual clock that :step advances", NULL},
        {"master", 0, 0, G_OPTION_ARG_STRING, &master, "sc's master (default local[2])",
         "local[N]"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    (void)help;
    GOptionContext *opts = g_option_context_new("[SCRIPT...] - Spark's streaming guide on Ember");
    g_option_context_add_main_entries(opts, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(opts, &argc, &argv, &err)) {
        fprintf(stderr, "ember-shell: %s\n", err->message);
        g_error_free(err);
        g_option_context_free(opts);
        return 2;
    }
    g_option_context_free(opts);
    setvbuf(stdout, NULL, _IOLBF, 0);

    bool tty = isatty(STDIN_FILENO) && argc == 1;
    shell = sh_shell_new(&(sh_opts){.manual_clock = manual, .echo = tty, .master = master});
    if (!shell) {
        g_free(master);
        return 2;
    }
    if (argc > 1) {
        for (int i = 1; i < argc && run_script(argv[i]); i++)
            ;
    } else if (tty) {
        interactive();
    } else {
        run_stdin();
    }
    fflush(stdout);
    sh_shell_free(shell);
    g_free(master);
    return errors ? 1 : 0;
}
