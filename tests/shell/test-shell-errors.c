/* ember-shell on input outside its subset: every mistake is reported with the place (a caret
 * under the column) and the shell goes on; nothing crashes. Each case runs the real process
 * and checks stderr byte for byte, and that the statements after the mistake still run. */
#include "shell-fixture.h"

#include <glib/gstdio.h>
#include <unistd.h>

static const char prelude[] = "val ssc = new StreamingContext(sc, Seconds(1))\n"
                              "val q = new mutable.Queue[RDD[String]]()\n"
                              "val lines = ssc.queueStream(q)\n"
                              "val pairs = lines.map(w => (w, 1))\n";

/* Runs the prelude, then bad (line 5), then a statement that must still run. */
static void expect_error(const char *bad, const char *message)
{
    char *s = g_strdup_printf("%s%s\nprintln(\"still here\")\n", prelude, bad);
    shell_run r = run_shell(NULL, s);
    cr_assert(WIFEXITED(r.status), "ember-shell died: status %d", r.status);
    cr_assert_eq(WEXITSTATUS(r.status), 1);
    cr_assert_str_eq(r.err, message);
    cr_assert_str_eq(r.out, "still here\n");
    shell_run_free(&r);
    g_free(s);
}

Test(shell_errors, unknown_method_in_a_lambda_points_at_the_method)
{
    expect_error("val words = lines.flatMap(_.splitt(\" \"))",
                 "<stdin>:5:29: error: splitt is not a method ember-shell knows (try :help "
                 "values)\n"
                 "val words = lines.flatMap(_.splitt(\" \"))\n"
                 "                            ^\n");
}

Test(shell_errors, lambda_with_the_wrong_number_of_parameters)
{
    expect_error("val sums = pairs.reduceByKey(x => x)",
                 "<stdin>:5:30: error: reduceByKey takes a function of 2 parameters; this one "
                 "takes 1\n"
                 "val sums = pairs.reduceByKey(x => x)\n"
                 "                             ^\n");
}

Test(shell_errors, placeholders_count_as_parameters)
{
    expect_error("val c = pairs.reduceByKey(_ + _ + _)",
                 "<stdin>:5:27: error: reduceByKey takes a function of 2 parameters; this one "
                 "takes 3\n"
                 "val c = pairs.reduceByKey(_ + _ + _)\n"
                 "                          ^\n");
}

Test(shell_errors, unclosed_parenthesis_points_at_the_opening_one)
{
    /* The next line is read as part of the call, so the input ends inside it. */
    char *s = g_strdup_printf("%sval words = lines.flatMap(_.split(\" \")\n", prelude);
    shell_run r = run_shell(NULL, s);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
    cr_assert_str_eq(r.err, "<stdin>:5:26: error: '(' is never closed\n"
                            "val words = lines.flatMap(_.split(\" \")\n"
                            "                         ^\n");
    shell_run_free(&r);
    g_free(s);
}

Test(shell_errors, val_without_a_name)
{
    expect_error("val = 3", "<stdin>:5:5: error: expected a name after val but found '='\n"
                            "val = 3\n"
                            "    ^\n");
}

Test(shell_errors, window_given_a_number_instead_of_a_duration)
{
    expect_error("val w = pairs.reduceByKeyAndWindow(_ + _, Seconds(3), 5)",
                 "<stdin>:5:55: error: reduceByKeyAndWindow expects a Duration here (Seconds(n), "
                 "Minutes(n), Milliseconds(n)), not an Int\n"
                 "val w = pairs.reduceByKeyAndWindow(_ + _, Seconds(3), 5)\n"
                 "                                                      ^\n");
}

Test(shell_errors, port_given_as_a_string)
{
    expect_error("val s = ssc.socketTextStream(\"localhost\", \"9999\")",
                 "<stdin>:5:43: error: socketTextStream expects an Int here, not a String\n"
                 "val s = ssc.socketTextStream(\"localhost\", \"9999\")\n"
                 "                                          ^\n");
}

Test(shell_errors, unknown_name_in_a_lambda)
{
    expect_error("lines.map(x => y)", "<stdin>:5:16: error: not found: value y\n"
                                      "lines.map(x => y)\n"
                                      "               ^\n");
}

Test(shell_errors, nested_pattern_is_outside_the_subset)
{
    expect_error("pairs.map { case (w, (a, b)) => w }",
                 "<stdin>:5:22: error: nested patterns are not supported by ember-shell; bind the "
                 "tuple and use ._1, ._2 (found '(')\n"
                 "pairs.map { case (w, (a, b)) => w }\n"
                 "                     ^\n");
}

Test(shell_errors, unclosed_string_literal)
{
    expect_error("val x = \"abc", "<stdin>:5:9: error: unclosed string literal\n"
                                  "val x = \"abc\n"
                                  "        ^\n");
}

Test(shell_errors, method_a_dstream_does_not_have)
{
    expect_error("lines.frobnicate()",
                 "<stdin>:5:7: error: frobnicate is not a member of DStream\n"
                 "lines.frobnicate()\n"
                 "      ^\n");
}

Test(shell_errors, unmatched_closing_parenthesis)
{
    expect_error("lines.print())", "<stdin>:5:14: error: unmatched ')'\n"
                                   "lines.print())\n"
                                   "             ^\n");
}

Test(shell_errors, update_function_of_one_parameter)
{
    expect_error("pairs.updateStateByKey((a: Seq[Int]) => Some(a.sum))",
                 "<stdin>:5:24: error: updateStateByKey takes a function of 2 parameters "
                 "(values: Seq[V], state: Option[S]); this one takes 1\n"
                 "pairs.updateStateByKey((a: Seq[Int]) => Some(a.sum))\n"
                 "                       ^\n");
}

Test(shell_errors, start_without_an_output_operation)
{
    expect_error("ssc.start()", "<stdin>:5:5: error: No output operations registered, so nothing "
                                "to execute (add print(), foreachRDD(...) or "
                                "saveAsTextFiles(...))\n"
                                "ssc.start()\n"
                                "    ^\n");
}

Test(shell_errors, operator_outside_the_subset)
{
    expect_error("val n = 3 ^^ 4", "<stdin>:5:11: error: operator ^^ is not supported by "
                                   "ember-shell\n"
                                   "val n = 3 ^^ 4\n"
                                   "          ^\n");
}

Test(shell_errors, if_without_parentheses)
{
    expect_error("val x = if 3 > 2 1 else 2", "<stdin>:5:12: error: expected '(' after if but "
                                              "found number\n"
                                              "val x = if 3 > 2 1 else 2\n"
                                              "           ^\n");
}

/* A record a lambda cannot handle fails its batch (reported on stderr) and the next batch
 * runs, as in Spark. */
Test(shell_errors, a_failing_record_fails_its_batch_and_the_stream_goes_on)
{
    shell_run r = run_shell((const char *const[]){"--manual-clock", NULL},
                            "val ssc = new StreamingContext(sc, Seconds(1))\n"
                            "val q = new mutable.Queue[RDD[String]]()\n"
                            "q += sc.parallelize(Seq(\"12\", \"x\"), 1)\n"
                            "q += sc.parallelize(Seq(\"30\"), 1)\n"
                            "ssc.queueStream(q).map(_.toInt * 2).print()\n"
                            "ssc.start()\n"
                            ":step 2\n"
                            "ssc.stop()\n");
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
    cr_assert_str_eq(r.out, "-------------------------------------------\n"
                            "Time: 2000 ms\n"
                            "-------------------------------------------\n"
                            "60\n\n");
    /* The shell's own report starts a line; Ember's default WARN log of the failed batch (as
     * Spark logs it) comes before it. */
    cr_assert(g_str_has_prefix(r.err, "[batch 1000 ms failed] ") ||
                  strstr(r.err, "\n[batch 1000 ms failed] "),
              "%s", r.err);
    cr_assert_not_null(strstr(r.err, "<stdin>:5:24: NumberFormatException: For input string: "
                                     "\"x\" (in `_.toInt`)"),
                       "%s", r.err);
    shell_run_free(&r);
}

Test(shell_errors, step_needs_a_manual_clock)
{
    shell_run r = run_shell(NULL, "val ssc = new StreamingContext(sc, Seconds(1))\n"
                                  "val q = new mutable.Queue[RDD[String]]()\n"
                                  "ssc.queueStream(q).print()\n"
                                  ":step\n");
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
    cr_assert_str_eq(r.err, "error: :step needs a manual clock: start ember-shell with "
                            "--manual-clock, or type :manual before new StreamingContext(...)\n");
    shell_run_free(&r);
}

/* Ember's own refusal (a window that is not a multiple of the slide) under a caret. */
Test(shell_errors, window_ember_refuses_is_reported_at_the_call)
{
    expect_error("pairs.window(Milliseconds(1500)).print()",
                 "<stdin>:5:7: error: window: the window duration (1500 ms) must be a multiple of "
                 "the slide duration of the parent stream (1000 ms)\n"
                 "pairs.window(Milliseconds(1500)).print()\n"
                 "      ^\n");
}

/* Every prefix of the guide's statements, and each with one character left out, loaded as
 * scripts of their own into one shell: each may fail, none may crash it, and it goes on. */
Test(shell_errors, truncated_and_mangled_guide_statements_never_crash_the_shell)
{
    static const char *const guide[] = {
        "val ssc = new StreamingContext(sc, Seconds(1))",
        "val lines = ssc.queueStream(q)",
        "val words = lines.flatMap(_.split(\" \"))",
        "val pairs = words.map(word => (word, 1))",
        "val wordCounts = pairs.reduceByKey(_ + _)",
        "wordCounts.print()",
        "val w = pairs.reduceByKeyAndWindow((a:Int,b:Int) => (a + b), Seconds(30), Seconds(10))",
        "def updateFunction(newValues: Seq[Int], runningCount: Option[Int]): Option[Int] = { "
        "val newCount = newValues.sum + runningCount.getOrElse(0); Some(newCount) }",
        "val runningCounts = pairs.updateStateByKey[Int](updateFunction _)",
        "val spam = sc.parallelize(Seq((\"b\", true)))",
        "val cleaned = wordCounts.transform(rdd => { rdd.join(spam).filter(_._2._2).map(x => "
        "(x._1, x._2._1)) })",
        "val f = (word: String, one: Option[Int], state: State[Int]) => { val sum = "
        "one.getOrElse(0) + state.getOption.getOrElse(0); state.update(sum); (word, sum) }",
        "val s = pairs.mapWithState(StateSpec.function(f).initialState(spam))",
        "pairs.foreachRDD(rdd => rdd.collect().foreach(println))",
        "println(s\"${Seq(1, 2).map(_ * 2).mkString(\",\")} and ${\"a b\".split(\" \").length}\")",
        "pairs.map { case (w, n) => (n, w) }.filter(_._1 % 2 == 0).print()",
    };
    char *dir = g_dir_make_tmp("ember-shell-fuzz-XXXXXX", NULL);
    GString *script = g_string_new(prelude);
    int files = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(guide); i++) {
        size_t n = strlen(guide[i]);
        for (size_t cut = 0; cut <= n; cut++)
            for (int mangle = 0; mangle < 2; mangle++) {
                /* mangle 0: the first cut characters; 1: all but the character at cut. */
                if (mangle && cut == n)
                    continue;
                GString *text = g_string_new_len(guide[i], (gssize)(mangle ? n : cut));
                if (mangle)
                    g_string_erase(text, (gssize)cut, 1);
                char *path = g_strdup_printf("%s/%04d.scala", dir, files++);
                cr_assert(g_file_set_contents(path, text->str, (gssize)text->len, NULL));
                g_string_append_printf(script, ":load %s\n", path);
                g_free(path);
                g_string_free(text, TRUE);
            }
    }
    g_string_append(script, "println(\"still here\")\n");
    shell_run r = run_shell((const char *const[]){"--manual-clock", NULL}, script->str);
    cr_assert(WIFEXITED(r.status), "ember-shell died: status %d", r.status);
    cr_assert_eq(WEXITSTATUS(r.status), 1);
    cr_assert(g_str_has_suffix(r.out, "still here\n"), "%s", r.out);
    cr_assert_gt(files, 2000);
    char *cmd = g_strdup_printf("rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    g_free(cmd);
    g_free(dir);
    g_string_free(script, TRUE);
    shell_run_free(&r);
}

/* :load runs a file as if typed; its errors name the file and the line in it. */
Test(shell_errors, load_reports_errors_at_the_file_and_line)
{
    char *path;
    int fd = g_file_open_tmp("ember-shell-load-XXXXXX.scala", &path, NULL);
    static const char text[] = "val x = Seq(1, 2,\n  3).map(_ * 2)\nprintln(x.sum)\nprintln(y)\n";
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    char *script = g_strdup_printf(":load %s\nprintln(\"after\")\n", path);
    shell_run r = run_shell(NULL, script);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
    cr_assert_str_eq(r.out, "12\nafter\n");
    char *want =
        g_strdup_printf("%s:4:9: error: not found: value y\nprintln(y)\n        ^\n", path);
    cr_assert_str_eq(r.err, want);
    g_free(want);
    g_unlink(path);
    g_free(path);
    g_free(script);
    shell_run_free(&r);
}

/* A transform closure that returns no RDD fails its batch with the shell's message; the
 * stream goes on (here every batch fails the same way, and the other output still prints). */
Test(shell_errors, transform_returning_no_rdd_fails_the_batch_with_its_reason)
{
    shell_run r = run_shell((const char *const[]){"--manual-clock", NULL},
                            "val ssc = new StreamingContext(sc, Seconds(1))\n"
                            "val q = new mutable.Queue[RDD[String]]()\n"
                            "q += sc.parallelize(Seq(\"a\"), 1)\n"
                            "val lines = ssc.queueStream(q)\n"
                            "lines.transform(rdd => rdd.count()).print()\n"
                            "lines.count().print()\n"
                            "ssc.start()\n"
                            ":step\n"
                            "ssc.stop()\n");
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
    cr_assert_str_eq(r.out, "-------------------------------------------\n"
                            "Time: 1000 ms\n"
                            "-------------------------------------------\n"
                            "1\n\n");
    /* The shell's own report starts a line; Ember's default WARN log of the failed batch (as
     * Spark logs it) comes before it. */
    cr_assert(g_str_has_prefix(r.err, "[batch 1000 ms failed] ") ||
                  strstr(r.err, "\n[batch 1000 ms failed] "),
              "%s", r.err);
    cr_assert_not_null(strstr(r.err, "error: transform's function must return an RDD, not an Int"),
                       "%s", r.err);
    shell_run_free(&r);
}
