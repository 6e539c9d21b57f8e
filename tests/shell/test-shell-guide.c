/* The guide's examples typed into ember-shell, a real process fed on stdin: a queue stream on
 * the manual clock (:step), so that every run prints the same bytes; each is checked against
 * the same pipeline built in C (the bytes a compiled program prints) and against counts worked
 * out by hand. NetworkWordCount runs against the example line server on 127.0.0.1. */
#include "shell-fixture.h"

#include <arpa/inet.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <unistd.h>

static const char *const manual[] = {"--manual-clock", NULL};

/* The same three batches for every example, one partition each so that hand counts are easy to
 * follow; "|" separates lines. */
static const char *const batches[] = {"a b c|a b", "b c", "c"};
static const char shell_input[] = "val ssc = new StreamingContext(sc, Seconds(1))\n"
                                  "val rddQueue = new mutable.Queue[RDD[String]]()\n"
                                  "rddQueue += sc.parallelize(Seq(\"a b c\", \"a b\"), 1)\n"
                                  "rddQueue += sc.parallelize(Seq(\"b c\"), 1)\n"
                                  "rddQueue += sc.parallelize(Seq(\"c\"), 1)\n"
                                  "val lines = ssc.queueStream(rddQueue)\n";

static char *script(const char *body, int steps)
{
    return g_strdup_printf("%s%sssc.start()\n:step %d\nssc.stop()\n", shell_input, body, steps);
}

/* ---- Word count ---- */

Test(shell_guide, word_count_prints_what_the_compiled_pipeline_prints)
{
    char *s = script("val words = lines.flatMap(_.split(\" \"))\n"
                     "val pairs = words.map(word => (word, 1))\n"
                     "val wordCounts = pairs.reduceByKey(_ + _)\n"
                     "wordCounts.print()\n",
                     3);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);

    c_run c;
    c_run_init(&c, batches, 3, 1);
    em_print_to(em_reduce_by_key(em_map(em_flat_map(c.lines, em_split_space), em_pair_one),
                                 em_sum),
                10, c.out);
    cr_assert_str_eq(r.out, c_run_batches(&c, 3));

    char *b1 = batch_records(r.out, 1000), *b2 = batch_records(r.out, 2000),
         *b3 = batch_records(r.out, 3000);
    cr_assert_str_eq(b1, "(a,2) (b,2) (c,1)"); /* "a b c" + "a b" */
    cr_assert_str_eq(b2, "(b,1) (c,1)");
    cr_assert_str_eq(b3, "(c,1)");
    g_free(b1), g_free(b2), g_free(b3);
    c_run_free(&c);
    shell_run_free(&r);
    g_free(s);
}

/* Spark's QueueStream example, as typed: (x % 10, 1) over 1 to 1000 in 10 slices. The compiled
 * examples/queue_stream runs on the system clock: only its Time lines differ. */
Test(shell_guide, queue_stream_example_prints_the_bytes_of_examples_queue_stream)
{
    shell_run r = run_shell(manual, "val ssc = new StreamingContext(sc, Seconds(1))\n"
                                    "val rddQueue = new mutable.Queue[RDD[Int]]()\n"
                                    "val inputStream = ssc.queueStream(rddQueue)\n"
                                    "val mappedStream = inputStream.map(x => (x % 10, 1))\n"
                                    "val reducedStream = mappedStream.reduceByKey(_ + _)\n"
                                    "reducedStream.print()\n"
                                    "for3 = 0\n" /* not Scala's for loop: an error, then on */
                                    "rddQueue += sc.makeRDD(1 to 1000, 10)\n"
                                    "rddQueue += sc.makeRDD(1 to 1000, 10)\n"
                                    "rddQueue += sc.makeRDD(1 to 1000, 10)\n"
                                    "ssc.start()\n:step 3\nssc.stop()\n");
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
    cr_assert_str_eq(r.err, "<stdin>:7:1: error: not found: variable for3\nfor3 = 0\n^\n");

    char *out = NULL, *err = NULL;
    int status;
    const char *argv[] = {EMBER_BUILD_ROOT "/examples/queue_stream", NULL};
    cr_assert(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
    cr_assert_eq(status, 0, "%s", err);
    /* The compiled program's batch times are wall-clock: renumber them 1000, 2000, 3000. */
    GRegex *times = g_regex_new("Time: [0-9]+ ms", 0, 0, NULL);
    GString *renumbered = g_string_new(NULL);
    GMatchInfo *mi;
    int k = 0;
    const char *from = out;
    g_regex_match(times, out, 0, &mi);
    while (g_match_info_matches(mi)) {
        int s0, e0;
        g_match_info_fetch_pos(mi, 0, &s0, &e0);
        g_string_append_len(renumbered, from, out + s0 - from);
        g_string_append_printf(renumbered, "Time: %d ms", ++k * 1000);
        from = out + e0;
        g_match_info_next(mi, NULL);
    }
    g_string_append(renumbered, from);
    g_match_info_free(mi);
    g_regex_unref(times);
    cr_assert_eq(k, 3);
    cr_assert_str_eq(r.out, renumbered->str);
    char *b1 = batch_records(r.out, 1000);
    cr_assert_str_eq(b1, "(0,100) (1,100) (2,100) (3,100) (4,100) (5,100) (6,100) (7,100) "
                         "(8,100) (9,100)");
    g_free(b1);
    g_string_free(renumbered, TRUE);
    g_free(out);
    g_free(err);
    shell_run_free(&r);
}

/* ---- Windowed word count ---- */

Test(shell_guide, windowed_word_count_prints_what_the_compiled_pipeline_prints)
{
    char *s =
        script("val words = lines.flatMap(_.split(\" \"))\n"
               "val pairs = words.map(word => (word, 1))\n"
               "// Reduce last 30 seconds of data, every 10 seconds: here 3 s every 1 s\n"
               "val windowedWordCounts = pairs.reduceByKeyAndWindow((a:Int,b:Int) => (a + b), "
               "Seconds(3), Seconds(1))\n"
               "windowedWordCounts.print()\n"
               "val incremental = pairs.reduceByKeyAndWindow(_ + _, _ - _, Seconds(2), "
               "Seconds(1))\n"
               "incremental.print()\n",
               4);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);

    c_run c;
    c_run_init(&c, batches, 3, 1);
    em_dstream *pairs = em_map(em_flat_map(c.lines, em_split_space), em_pair_one);
    em_print_to(em_reduce_by_key_and_window(pairs, em_sum, EM_SECONDS(3), EM_SECONDS(1)), 10,
                c.out);
    em_print_to(em_reduce_by_key_and_window_inv(pairs, em_sum, em_subtract, EM_SECONDS(2),
                                                EM_SECONDS(1)),
                10, c.out);
    cr_assert_str_eq(r.out, c_run_batches(&c, 4));

    /* The 3 s window at 3 s holds all three batches: a 2, b 3, c 3; at 4 s the last two. */
    char *w3 = batch_records(r.out, 3000);
    cr_assert(g_str_has_prefix(w3, "(a,2) (b,3) (c,3)"), "%s", w3);
    g_free(w3);
    c_run_free(&c);
    shell_run_free(&r);
    g_free(s);
}

/* ---- updateStateByKey and mapWithState ---- */

static em_value running_count(em_value key, const em_value *values, size_t n, em_value state,
                              em_time time, void *ud)
{
    (void)key, (void)time, (void)ud;
    int64_t sum = em_type_of(state) == EM_T_NONE ? 0 : em_as_int(state);
    for (size_t i = 0; i < n; i++)
        sum += em_as_int(values[i]);
    return em_int(sum);
}

Test(shell_guide, update_state_by_key_keeps_the_running_count)
{
    char *s = script("val pairs = lines.flatMap(_.split(\" \")).map(word => (word, 1))\n"
                     "def updateFunction(newValues: Seq[Int], runningCount: Option[Int]): "
                     "Option[Int] = {\n"
                     "    val newCount = newValues.sum + runningCount.getOrElse(0)\n"
                     "    Some(newCount)\n"
                     "}\n"
                     "val runningCounts = pairs.updateStateByKey[Int](updateFunction _)\n"
                     "runningCounts.print()\n",
                     4);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);

    c_run c;
    c_run_init(&c, batches, 3, 1);
    em_dstream *pairs = em_map(em_flat_map(c.lines, em_split_space), em_pair_one);
    em_print_to(em_update_state_by_key(pairs, running_count), 10, c.out);
    cr_assert_str_eq(r.out, c_run_batches(&c, 4));

    char *b3 = batch_records(r.out, 3000), *b4 = batch_records(r.out, 4000);
    cr_assert_str_eq(b3, "(a,2) (b,3) (c,3)");
    cr_assert_str_eq(b4, "(a,2) (b,3) (c,3)"); /* no new data: the state stays */
    g_free(b3), g_free(b4);
    c_run_free(&c);
    shell_run_free(&r);
    g_free(s);
}

static em_value mapping_func(em_time time, em_value word, em_value one, em_state *state, void *ud)
{
    (void)time, (void)ud;
    int64_t sum = (em_type_of(one) == EM_T_NONE ? 0 : em_as_int(one)) +
                  (em_state_exists(state) ? em_as_int(em_state_get(state)) : 0);
    em_state_update(state, em_int(sum));
    return em_pair(word, em_int(sum));
}

Test(shell_guide, map_with_state_runs_the_stateful_word_count_mapping_function)
{
    char *s = script("val wordDstream = lines.flatMap(_.split(\" \")).map(x => (x, 1))\n"
                     "val initialRDD = sc.parallelize(List((\"hello\", 1), (\"world\", 1)))\n"
                     "val mappingFunc = (word: String, one: Option[Int], state: State[Int]) => {\n"
                     "  val sum = one.getOrElse(0) + state.getOption.getOrElse(0)\n"
                     "  val output = (word, sum)\n"
                     "  state.update(sum)\n"
                     "  output\n"
                     "}\n"
                     "val stateDstream = wordDstream.mapWithState(\n"
                     "  StateSpec.function(mappingFunc).initialState(initialRDD))\n"
                     "stateDstream.print()\n"
                     "stateDstream.stateSnapshots().print()\n",
                     3);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);

    c_run c;
    c_run_init(&c, batches, 3, 1);
    em_rdd *initial = em_parallelize_text(em_ssc_context(c.ssc), "(hello,1), (world,1)", 0, NULL);
    em_dstream *words = em_map(em_flat_map(c.lines, em_split_space), em_pair_one);
    em_dstream *mapped =
        em_map_with_state(words, &(em_state_spec){.fn = mapping_func, .initial_state = initial});
    em_rdd_unref(initial);
    em_print_to(mapped, 10, c.out);
    em_print_to(em_state_snapshots(mapped), 10, c.out);
    cr_assert_str_eq(r.out, c_run_batches(&c, 3));

    char *b1 = batch_records(r.out, 1000);
    cr_assert_str_eq(b1, "(a,1) (a,2) (b,1) (b,2) (c,1)");
    g_free(b1);
    c_run_free(&c);
    shell_run_free(&r);
    g_free(s);
}

/* ---- transform ---- */

static em_rdd *spam_info;

static bool is_spam(em_value kv, void *ud)
{
    (void)ud;
    return em_as_bool(em_val(em_val(kv)));
}

static em_value drop_flag(em_value kv, void *ud)
{
    (void)ud;
    return em_pair(em_key(kv), em_key(em_val(kv)));
}

static em_rdd *join_spam(em_rdd *rdd, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud, (void)err;
    g_autoptr(em_rdd) joined = em_rdd_join(rdd, spam_info);
    g_autoptr(em_rdd) kept = em_rdd_filter(joined, is_spam);
    return em_rdd_map(kept, drop_flag);
}

Test(shell_guide, transform_joins_every_batch_with_an_rdd)
{
    char *s = script("val wordCounts = lines.flatMap(_.split(\" \")).map(x => (x, 1))"
                     ".reduceByKey(_ + _)\n"
                     "val spamInfoRDD = sc.parallelize(Seq((\"b\", true), (\"c\", false)))\n"
                     "val cleanedDStream = wordCounts.transform { rdd =>\n"
                     "  rdd.join(spamInfoRDD).filter(_._2._2).map(x => (x._1, x._2._1))\n"
                     "}\n"
                     "cleanedDStream.print()\n",
                     3);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);

    c_run c;
    c_run_init(&c, batches, 3, 1);
    spam_info = em_parallelize_text(em_ssc_context(c.ssc), "(b,true), (c,false)", 0, NULL);
    em_dstream *counts =
        em_reduce_by_key(em_map(em_flat_map(c.lines, em_split_space), em_pair_one), em_sum);
    em_print_to(em_transform(counts, join_spam), 10, c.out);
    const char *printed = c_run_batches(&c, 3);
    em_rdd_unref(spam_info);
    cr_assert_str_eq(r.out, printed);
    cr_assert_str_eq(r.out, "-------------------------------------------\n"
                            "Time: 1000 ms\n"
                            "-------------------------------------------\n"
                            "(b,2)\n\n"
                            "-------------------------------------------\n"
                            "Time: 2000 ms\n"
                            "-------------------------------------------\n"
                            "(b,1)\n\n"
                            "-------------------------------------------\n"
                            "Time: 3000 ms\n"
                            "-------------------------------------------\n\n");
    c_run_free(&c);
    shell_run_free(&r);
    g_free(s);
}

/* ---- Output operations ---- */

Test(shell_guide, foreach_rdd_collects_and_prints_each_record_at_the_driver)
{
    char *s = script("lines.flatMap(_.split(\" \")).foreachRDD(rdd => rdd.collect()"
                     ".foreach(println))\n"
                     "lines.foreachRDD { (rdd, time) =>\n"
                     "  println(s\"$time: ${rdd.count()} lines\")\n"
                     "}\n",
                     2);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);
    cr_assert_str_eq(r.out, "a\nb\nc\na\nb\n1000 ms: 2 lines\nb\nc\n2000 ms: 1 lines\n");
    shell_run_free(&r);
    g_free(s);
}

Test(shell_guide, save_as_text_files_writes_a_directory_per_batch)
{
    char *dir = g_dir_make_tmp("ember-shell-XXXXXX", NULL);
    char *body =
        g_strdup_printf("lines.map(_.toUpperCase).saveAsTextFiles(\"%s/up\", \"txt\")\n", dir);
    char *s = script(body, 2);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);
    char *part, *path = g_strdup_printf("%s/up-1000.txt/part-00000", dir);
    cr_assert(g_file_get_contents(path, &part, NULL, NULL), "%s", path);
    cr_assert_str_eq(part, "A B C\nA B\n");
    g_free(part);
    g_free(path);
    path = g_strdup_printf("%s/up-2000.txt/part-00000", dir);
    cr_assert(g_file_get_contents(path, &part, NULL, NULL), "%s", path);
    cr_assert_str_eq(part, "B C\n");
    g_free(part);
    g_free(path);
    char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    g_free(cmd);
    g_free(body);
    g_free(dir);
    shell_run_free(&r);
    g_free(s);
}

/* ---- :graph ---- */

Test(shell_guide, graph_shows_streams_their_bindings_and_outputs)
{
    shell_run r = run_shell(manual, "val ssc = new StreamingContext(sc, Seconds(1))\n"
                                    "val q = new mutable.Queue[RDD[String]]()\n"
                                    "val lines = ssc.queueStream(q)\n"
                                    "val words = lines.flatMap(_.split(\" \"))\n"
                                    "val other = ssc.queueStream(q)\n"
                                    "val both = words.union(other).filter(_.nonEmpty)\n"
                                    "both.print()\n"
                                    ":graph\n");
    assert_clean(&r);
    cr_assert_str_eq(r.out, "StreamingContext: batch interval 1000 ms, manual clock, INITIALIZED\n"
                            "  [0] lines = queueStream(q)\n"
                            "  [1] words = flatMap(_.split(\" \")) <- [0]\n"
                            "  [2] other = queueStream(q)\n"
                            "  [3] union(other) <- [1], [2]\n"
                            "  [4] both = filter(_.nonEmpty) <- [3]\n"
                            "  output print() <- [4]\n");
    shell_run_free(&r);
}

/* ---- NetworkWordCount against the example line server ---- */

#define DASHES "-------------------------------------------"

static gint compare_keys(gconstpointer a, gconstpointer b, gpointer ud)
{
    (void)ud;
    return strcmp(a, b);
}

/* Sums (word,n) records over every printed batch, checking each batch's frame; "w=n ..." */
static char *word_totals(const char *printed, int *batches)
{
    char **lines = g_strsplit(printed, "\n", -1);
    GTree *totals = g_tree_new_full(compare_keys, NULL, g_free, NULL);
    long long last = 0;
    guint i = 0;
    *batches = 0;
    while (lines[i] && lines[i][0]) {
        long long t;
        cr_assert_str_eq(lines[i], DASHES);
        cr_assert_eq(sscanf(lines[i + 1], "Time: %lld ms", &t), 1, "%s", lines[i + 1]);
        cr_assert(last == 0 || t == last + 1000, "batch %lld after %lld", t, last);
        cr_assert_str_eq(lines[i + 2], DASHES);
        last = t;
        (*batches)++;
        for (i += 3; lines[i] && lines[i][0]; i++) {
            char word[64];
            int n, used = 0;
            cr_assert(sscanf(lines[i], "(%63[^,],%d)%n", word, &n, &used) == 2 && !lines[i][used],
                      "not a count: %s", lines[i]);
            int sum = GPOINTER_TO_INT(g_tree_lookup(totals, word)) + n;
            g_tree_replace(totals, g_strdup(word), GINT_TO_POINTER(sum));
        }
        cr_assert_not_null(lines[i]);
        i++;
    }
    GString *out = g_string_new(NULL);
    GTreeNode *node = g_tree_node_first(totals);
    for (; node; node = g_tree_node_next(node))
        g_string_append_printf(out, "%s%s=%d", out->len ? " " : "", (char *)g_tree_node_key(node),
                               GPOINTER_TO_INT(g_tree_node_value(node)));
    g_tree_destroy(totals);
    g_strfreev(lines);
    return g_string_free(out, FALSE);
}

Test(shell_guide, network_word_count_counts_every_word_the_line_server_sent)
{
    char *text_path;
    int fd = g_file_open_tmp("ember-shell-lines-XXXXXX", &text_path, NULL);
    static const char text[] = "to be or not to be\nthat is the question\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    const char *argv[] = {EMBER_BUILD_ROOT "/examples/line_server", "--once", "0", text_path,
                          NULL};
    GPid server;
    int server_out;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                       NULL, &server, NULL, &server_out, NULL, NULL));
    char first[128] = {0};
    for (size_t k = 0; k < sizeof first - 1 && read(server_out, first + k, 1) == 1; k++)
        if (first[k] == '\n')
            break;
    int port = 0;
    cr_assert_eq(sscanf(first, "Listening on 127.0.0.1:%d", &port), 1, "%s", first);

    char *s = g_strdup_printf("val ssc = new StreamingContext(sc, Seconds(1))\n"
                              "val lines = ssc.socketTextStream(\"localhost\", %d)\n"
                              "val words = lines.flatMap(_.split(\" \"))\n"
                              "val pairs = words.map(word => (word, 1))\n"
                              "val wordCounts = pairs.reduceByKey(_ + _)\n"
                              "wordCounts.print()\n"
                              "ssc.start()\n"
                              "ssc.awaitTerminationOrTimeout(2500)\n"
                              "ssc.stop(stopSparkContext = false, stopGracefully = true)\n",
                              port);
    shell_run r = run_shell(NULL, s);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
    int n;
    char *totals = word_totals(r.out, &n);
    cr_assert_geq(n, 2, "%s", r.out);
    cr_assert_str_eq(totals, "be=2 is=1 not=1 or=1 question=1 that=1 the=1 to=2", "%s", r.out);
    int status;
    cr_assert_eq(waitpid(server, &status, 0), server);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_spawn_close_pid(server);
    close(server_out);
    g_unlink(text_path);
    g_free(text_path);
    g_free(totals);
    g_free(s);
    shell_run_free(&r);
}

/* ---- textFileStream, with the shell fed while it runs ---- */

/* Reads fd into out until it ends with marker (NULL: the end of file) or the deadline. */
static bool read_until(int fd, GString *out, const char *marker, gint64 deadline)
{
    char buf[4096];
    while (!marker || !g_str_has_suffix(out->str, marker)) {
        int left = (int)((deadline - g_get_monotonic_time()) / 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return false;
        ssize_t n = read(fd, buf, marker ? 1 : sizeof buf);
        if (n <= 0)
            return n == 0 && !marker;
        g_string_append_len(out, buf, n);
    }
    return true;
}

static void write_all(int fd, const char *text)
{
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
}

Test(shell_guide, text_file_stream_counts_the_words_of_files_moved_in_after_start)
{
    char *dir = g_dir_make_tmp("ember-shell-files-XXXXXX", NULL);
    char *old = g_build_filename(dir, "old.txt", NULL);
    cr_assert(g_file_set_contents(old, "there before start\n", -1, NULL));
    const char *argv[] = {SHELL_BIN, "--manual-clock", NULL};
    GPid pid;
    int in, out, err;
    cr_assert(g_spawn_async_with_pipes(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                       NULL, &pid, &in, &out, &err, NULL));
    gint64 deadline = g_get_monotonic_time() + SHELL_DEADLINE_S * G_USEC_PER_SEC;
    char *start = g_strdup_printf("val ssc = new StreamingContext(sc, Seconds(1))\n"
                                  "val lines = ssc.textFileStream(\"%s\")\n"
                                  "lines.flatMap(_.split(\" \")).map(x => (x, 1))"
                                  ".reduceByKey(_ + _).print()\n"
                                  "ssc.start()\n"
                                  "println(\"started\")\n",
                                  dir);
    write_all(in, start);
    GString *printed = g_string_new(NULL);
    cr_assert(read_until(out, printed, "started\n", deadline), "%s", printed->str);

    /* Written elsewhere, then renamed in, as Spark asks. */
    char *tmp = g_build_filename(dir, ".words.tmp", NULL);
    char *final = g_build_filename(dir, "words.txt", NULL);
    cr_assert(g_file_set_contents(tmp, "to be\nor not to be\n", -1, NULL));
    cr_assert_eq(rename(tmp, final), 0);
    write_all(in, ":step 2\nssc.stop()\n");
    close(in);
    g_string_truncate(printed, 0);
    cr_assert(read_until(out, printed, NULL, deadline));
    GString *errors = g_string_new(NULL);
    cr_assert(read_until(err, errors, NULL, deadline));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", errors->str);
    cr_assert_str_eq(errors->str, "");
    char *b1 = batch_records(printed->str, 1000), *b2 = batch_records(printed->str, 2000);
    cr_assert_str_eq(b1, "(be,2) (not,1) (or,1) (to,2)", "%s", printed->str);
    cr_assert_str_eq(b2, "", "%s", printed->str); /* a file counts once */
    g_free(b1), g_free(b2);
    g_spawn_close_pid(pid);
    close(out);
    close(err);
    g_string_free(errors, TRUE);
    g_string_free(printed, TRUE);
    char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    g_free(cmd);
    g_free(final);
    g_free(tmp);
    g_free(start);
    g_free(old);
    g_free(dir);
}

/* ---- Every DStream operation, against its C counterpart ---- */

static em_value length_of(em_value w, void *ud)
{
    (void)ud;
    return em_int((int64_t)em_str_len(w));
}

static bool not_to(em_value w, void *ud)
{
    (void)ud;
    return !(em_str_len(w) == 2 && !memcmp(em_str_ptr(w), "to", 2));
}

static em_value times_ten(em_value v, void *ud)
{
    (void)ud;
    return em_int(em_as_int(v) * 10);
}

static em_value v_and_next(em_value v, void *ud)
{
    (void)ud;
    em_value both[2] = {v, em_int(em_as_int(v) + 1)};
    return em_list(both, 2, EM_LIST);
}

static bool key_is(em_value kv, void *ud)
{
    const char *want = ud;
    em_value k = em_key(kv);
    return em_str_len(k) == strlen(want) && !memcmp(em_str_ptr(k), want, em_str_len(k));
}

static bool key_is_not_to(em_value kv, void *ud) { return not_to(em_key(kv), ud); }

static void partition_not_to(int index, em_iter *in, em_emitter *out, void *ud)
{
    (void)index;
    em_value w;
    while (em_iter_next(in, &w))
        if (not_to(w, ud))
            em_emit(out, w);
}

static em_rdd *union_of(em_rdd *a, em_rdd *b, em_time t, void *ud, GError **err)
{
    (void)t, (void)ud, (void)err;
    return em_rdd_union(a, b);
}

Test(shell_guide, every_dstream_operation_prints_what_its_c_counterpart_prints)
{
    shell_run r = run_shell(
        manual,
        "val ssc = new StreamingContext(sc, Seconds(1))\n"
        "val rddQueue = new mutable.Queue[RDD[String]]()\n"
        "rddQueue += sc.parallelize(Seq(\"to be or\", \"not to be\"), 2)\n"
        "rddQueue += sc.parallelize(Seq(\"to stream\"), 2)\n"
        "rddQueue += sc.parallelize(Seq(\"be\"), 2)\n"
        "val lines = ssc.queueStream(rddQueue)\n"
        "val words = lines.flatMap(_.split(\" \"))\n"
        "val pairs = words.map(x => (x, 1))\n"
        "words.map(_.length).print()\n"
        "words.filter(w => w != \"to\").print()\n"
        "pairs.mapValues(_ * 10).print()\n"
        "pairs.flatMapValues(v => Seq(v, v + 1)).print()\n"
        "words.glom().print()\n"
        "words.repartition(3).count().print()\n"
        "words.map(_.length).reduce(_ + _).print()\n"
        "words.countByValue().print()\n"
        "words.union(lines).count().print()\n"
        "pairs.groupByKey().print()\n"
        "pairs.combineByKey((v: Int) => v, (c: Int, v: Int) => c + v, (a: Int, b: Int) => a + b, "
        "2).print()\n"
        "pairs.join(pairs.mapValues(_ * 10)).print()\n"
        "pairs.leftOuterJoin(pairs.filter(_._1 == \"be\")).print()\n"
        "pairs.cogroup(pairs.filter(_._1 == \"to\")).print()\n"
        "words.window(Seconds(2)).count().print()\n"
        "words.countByWindow(Seconds(2), Seconds(1)).print()\n"
        "words.map(_.length).reduceByWindow(_ + _, Seconds(2), Seconds(1)).print()\n"
        "words.map(_.length).reduceByWindow(_ + _, _ - _, Seconds(2), Seconds(1)).print()\n"
        "pairs.groupByKeyAndWindow(Seconds(2)).print()\n"
        "words.countByValueAndWindow(Seconds(2), Seconds(1)).print()\n"
        "lines.transformWith(words, (a, b) => a.union(b)).print()\n"
        "words.mapPartitions(it => it.filter(_ != \"to\")).print()\n"
        "pairs.map { case (word, count) => (count, word) }.print()\n"
        "pairs.filter((w, n) => w != \"to\").print()\n"
        "ssc.start()\n:step 3\nssc.stop()\n");
    assert_clean(&r);

    static const char *const input[] = {"to be or|not to be", "to stream", "be"};
    c_run c;
    c_run_init(&c, input, 3, 2);
    em_dstream *lines = c.lines, *words = em_flat_map(lines, em_split_space);
    em_dstream *pairs = em_map(words, em_pair_one);
    FILE *o = c.out;
    em_print_to(em_map(words, length_of), 10, o);
    em_print_to(em_filter(words, not_to), 10, o);
    em_print_to(em_map_values(pairs, times_ten), 10, o);
    em_print_to(em_flat_map_values(pairs, v_and_next), 10, o);
    em_print_to(em_glom(words), 10, o);
    em_print_to(em_count(em_repartition(words, 3)), 10, o);
    em_print_to(em_reduce(em_map(words, length_of), em_sum), 10, o);
    em_print_to(em_count_by_value(words), 10, o);
    em_print_to(em_count(em_union(words, lines)), 10, o);
    em_print_to(em_group_by_key(pairs), 10, o);
    em_print_to(em_combine_by_key_full(pairs, &(em_combine_spec){.create = em_identity,
                                                                 .merge_value = em_sum,
                                                                 .merge_combiners = em_sum,
                                                                 .num_partitions = 2}),
                10, o);
    em_print_to(em_join(pairs, em_map_values(pairs, times_ten)), 10, o);
    em_print_to(em_left_outer_join(pairs, em_filter_full(pairs, key_is, "be", NULL, "be")), 10, o);
    em_print_to(em_cogroup(pairs, em_filter_full(pairs, key_is, "to", NULL, "to")), 10, o);
    em_print_to(em_count(em_window(words, EM_SECONDS(2), EM_SECONDS(1))), 10, o);
    em_print_to(em_count_by_window(words, EM_SECONDS(2), EM_SECONDS(1)), 10, o);
    em_print_to(em_reduce_by_window(em_map(words, length_of), em_sum, EM_SECONDS(2),
                                    EM_SECONDS(1)),
                10, o);
    em_print_to(em_reduce_by_window_inv(em_map(words, length_of), em_sum, em_subtract,
                                        EM_SECONDS(2), EM_SECONDS(1)),
                10, o);
    em_print_to(em_group_by_key_and_window(pairs, EM_SECONDS(2), EM_SECONDS(1)), 10, o);
    em_print_to(em_count_by_value_and_window(words, EM_SECONDS(2), EM_SECONDS(1)), 10, o);
    em_print_to(em_transform_with(lines, words, union_of), 10, o);
    em_print_to(em_map_partitions(words, partition_not_to), 10, o);
    em_print_to(em_map(pairs, em_swap), 10, o);
    em_print_to(em_filter_full(pairs, key_is_not_to, NULL, NULL, "f"), 10, o);
    cr_assert_str_eq(r.out, c_run_batches(&c, 3));

    /* Some by hand: batch 1 has 6 words, 2 of them "to"; the 2 s window at 2 s has 8. */
    cr_assert_not_null(strstr(r.out, "Time: 1000 ms\n"
                                     "-------------------------------------------\n"
                                     "2\n2\n2\n3\n2\n2\n\n"));
    cr_assert_not_null(strstr(r.out, "Time: 2000 ms\n"
                                     "-------------------------------------------\n"
                                     "8\n\n"));
    c_run_free(&c);
    shell_run_free(&r);
}

/* transform(_.sortByKey(false)) and the guide's foreachRDD { rdd => rdd.foreachPartition ... }
 * shape, records in a known order: one partition, sorted keys. */
Test(shell_guide, transform_placeholder_sorts_and_foreach_partition_sees_every_record)
{
    char *s = script("val counts = lines.flatMap(_.split(\" \")).map((_, 1)).reduceByKey(_ + _)\n"
                     "counts.transform(_.sortByKey(false)).print()\n"
                     "lines.foreachRDD { rdd =>\n"
                     "  rdd.foreachPartition { partitionOfRecords =>\n"
                     "    partitionOfRecords.foreach(record => println(\"sent \" + record))\n"
                     "  }\n"
                     "}\n",
                     2);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);
    cr_assert_str_eq(r.out, "-------------------------------------------\n"
                            "Time: 1000 ms\n"
                            "-------------------------------------------\n"
                            "(c,1)\n(b,2)\n(a,2)\n\n"
                            "sent a b c\nsent a b\n"
                            "-------------------------------------------\n"
                            "Time: 2000 ms\n"
                            "-------------------------------------------\n"
                            "(c,1)\n(b,1)\n\n"
                            "sent b c\n");
    shell_run_free(&r);
    g_free(s);
}

/* ---- Values: Scala's semantics and Spark's printing, at the driver ---- */

Test(shell_values, expressions_print_what_scala_prints)
{
    /* Each line: the expression, then what Scala prints for it. */
    static const char *const cases[][2] = {
        {"3 / 2", "1"},
        {"3.0 / 2", "1.5"},
        {"-7 / 2", "-3"},
        {"-7 % 3", "-1"},
        {"1e10", "1.0E10"},
        {"0.1 + 0.2", "0.30000000000000004"},
        {"100.0", "100.0"},
        {"\"a\" + 1", "a1"},
        {"1 + 2 + \"x\"", "3x"},
        {"\"x\" + 1 + 2", "x12"},
        {"(1, \"a\", 2.5)", "(1,a,2.5)"},
        {"Some(3)", "Some(3)"},
        {"None", "None"},
        {"Seq(1, 2).map(_ * 2)", "List(2, 4)"},
        {"\"a,b,,\".split(\",\").length", "2"},
        {"\" a b\".split(\" \").length", "3"},
        {"\"a1b22c\".split(\"[0-9]+\").mkString(\"|\")", "a|b|c"},
        {"Seq(3, 1, 2).sorted", "List(1, 2, 3)"},
        {"if (3 > 2) \"yes\" else \"no\"", "yes"},
        {"math.max(3, 7)", "7"},
        {"Seq(1.5, 2.5).sum", "4.0"},
        {"\"Hello\".toUpperCase.length", "5"},
        {"(1 to 5).sum", "15"},
        {"s\"${1 + 1} is two\"", "2 is two"},
        {"true && !false", "true"},
        {"10 max 3", "10"},
        {"\"abc\".substring(1)", "bc"},
        {"Some(2).getOrElse(0) + None.getOrElse(5)", "7"},
        {"(\"k\", 3)._2 * 1.5", "4.5"},
        {"Seq((\"a\", 1), (\"b\", 2)).map { case (k, v) => k * 2 }", "List(aa, bb)"},
        {"Seq((\"a\", 1), (\"b\", 2)).map((k, v) => v * 2)", "List(2, 4)"},
        {"1 == 1.0", "true"},
        {"\"a\" < \"b\"", "true"},
        {"List(1, 2, 3).foldLeft(0)((acc, x) => acc + x * x)", "14"},
        {"Seq(1, 2, 3).reduce(_ max _)", "3"},
    };
    GString *script = g_string_new(NULL), *want = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_string_append_printf(script, "println(%s)\n", cases[i][0]);
        g_string_append_printf(want, "%s\n", cases[i][1]);
    }
    shell_run r = run_shell(NULL, script->str);
    assert_clean(&r);
    cr_assert_str_eq(r.out, want->str);
    shell_run_free(&r);
    g_string_free(script, TRUE);
    g_string_free(want, TRUE);
}

Test(shell_guide, ssc_union_merges_the_streams_written_out_in_a_seq)
{
    char *s = script("val upper = lines.map(_.toUpperCase)\n"
                     "val u = ssc.union(Seq(lines, upper, lines.filter(_.startsWith(\"b\"))))\n"
                     "u.print()\n"
                     ":graph\n",
                     1);
    shell_run r = run_shell(manual, s);
    assert_clean(&r);
    cr_assert_str_eq(r.out,
                     "StreamingContext: batch interval 1000 ms, manual clock, INITIALIZED\n"
                     "  [0] lines = queueStream(rddQueue)\n"
                     "  [1] upper = map(_.toUpperCase) <- [0]\n"
                     "  [2] filter(_.startsWith(\"b\")) <- [0]\n"
                     "  [3] u = union(Seq(lines, upper, lines.filter(_.startsWith(\"b\")))) "
                     "<- [0], [1], [2]\n"
                     "  output print() <- [3]\n"
                     "-------------------------------------------\n"
                     "Time: 1000 ms\n"
                     "-------------------------------------------\n"
                     "a b c\na b\nA B C\nA B\n\n");
    shell_run_free(&r);
    g_free(s);
}
