/* The parameterised stock functions ports use instead of hand-written callbacks: split on a
 * separator, contains, field n, case, parsing, Java's number text and "%s".format, C strings. */
#include <criterion/criterion.h>

#include "../core/rdd-fixture.h"

static char *text_of(em_value v)
{
    char *s = em_value_to_string(v);
    em_scratch_reset();
    return s;
}

static void check(em_value v, const char *expected, const char *what)
{
    g_autofree char *got = text_of(v);
    cr_assert_str_eq(got, expected, "%s", what);
}

Test(stock_functions, split_on_keeps_inner_empty_fields_and_drops_trailing_ones)
{
    const struct {
        const char *line, *sep, *fields;
    } cases[] = {
        {"a,b,,c", ",", "Array(a, b, , c)"},
        {"a,b,,", ",", "Array(a, b)"},
        {",a", ",", "Array(, a)"},
        {"", ",", "Array()"},
        {",,,", ",", "Array()"},
        {"no separator", ",", "Array(no separator)"},
        {"k::v::w", "::", "Array(k, v, w)"},
        {"a:::b", "::", "Array(a, :b)"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        check(em_split_on(em_str(cases[i].line), (void *)cases[i].sep), cases[i].fields,
              cases[i].line);
}

/* Java: "".split(",") is [""], one empty string: Array() prints it the same, so check length. */
Test(stock_functions, split_on_of_empty_line_is_one_empty_field)
{
    em_value f = em_split_on(em_str(""), ",");
    cr_assert_eq(em_list_len(f), 1);
    cr_assert_eq(em_str_len(em_list_get(f, 0)), 0);
    em_scratch_reset();
}

Test(stock_functions, contains_and_starts_with_match_substrings)
{
    cr_assert(em_contains(em_str("to be or not"), "be"));
    cr_assert(em_contains(em_str("to be"), ""));
    cr_assert_not(em_contains(em_str("to be"), "bee"));
    cr_assert_not(em_contains(em_str("b"), "be"));
    cr_assert(em_starts_with(em_str("ERROR disk"), "ERROR"));
    cr_assert_not(em_starts_with(em_str("an ERROR"), "ERROR"));
}

Test(stock_functions, field_of_picks_tuple_fields_zero_based)
{
    em_value t = em_tuple_in(em_scratch(), (em_value[]){em_str("url"), em_int(200), em_int(7)}, 3);
    check(em_field_of(t, EM_FIELD(0)), "url", "_1");
    t = em_tuple_in(em_scratch(), (em_value[]){em_str("url"), em_int(200), em_int(7)}, 3);
    check(em_field_of(t, EM_FIELD(2)), "7", "_3");
}

Test(stock_functions, case_changes_follow_java_for_unicode)
{
    check(em_to_lower(em_str("HeLLo \xc3\x89T\xc3\x89"), NULL), "hello \xc3\xa9t\xc3\xa9",
          "lower");
    check(em_to_upper(em_str("stra\xc3\x9f"
                             "e"),
                      NULL),
          "STRASSE", "upper sharp s");
    check(em_to_upper(em_strn("a\xff"
                              "b",
                              3),
                      NULL),
          "A\xff"
          "B",
          "not UTF-8: ASCII only");
}

Test(stock_functions, number_parsing_follows_java)
{
    check(em_parse_int(em_str("-2147483648"), NULL), "-2147483648", "int min");
    check(em_parse_int(em_str("+42"), NULL), "42", "plus");
    check(em_parse_long(em_str("9223372036854775807"), NULL), "9223372036854775807", "max");
    check(em_parse_long(em_str("-9223372036854775808"), NULL), "-9223372036854775808", "min");
    check(em_parse_double(em_str(" 1.5 "), NULL), "1.5", "trimmed");
    check(em_parse_double(em_str("2f"), NULL), "2.0", "suffix");
    check(em_parse_double(em_str("1e3"), NULL), "1000.0", "exponent");
    check(em_parse_double(em_str(".5"), NULL), "0.5", "leading point");
    check(em_parse_double(em_str("-Infinity"), NULL), "-Infinity", "infinity");
    check(em_parse_double(em_str("NaN"), NULL), "NaN", "nan");
}

static em_value fail_parse(em_value v, void *ud)
{
    (void)ud;
    return em_parse_int(v, NULL);
}

/* Outside a task em_fail only warns; inside one the job fails naming the text, as Java's
 * NumberFormatException. Each bad text fails its own job. */
Test(stock_functions, bad_numbers_fail_the_record_naming_the_text)
{
    static const char *const bad_ints[] = {"2147483648", "-2147483649", "",   "-",
                                           "1 ",         "0x10",        "1.0"};
    static const char *const bad_doubles[] = {"", "abc", "1e", "0x1p3", "inf", "1..2", "--1"};
    em_context *ctx = em_context_new("local[1]", "parse", NULL);
    for (int kind = 0; kind < 2; kind++) {
        const char *const *bad = kind ? bad_doubles : bad_ints;
        for (size_t i = 0; i < 7; i++) {
            em_value v = em_str(bad[i]);
            g_autoptr(em_rdd) src = em_parallelize(ctx, &v, 1, 1);
            g_autoptr(em_rdd) parsed =
                kind ? em_rdd_map_full(src, em_parse_double, NULL, NULL, "toDouble")
                     : em_rdd_map(src, fail_parse);
            GError *err = NULL;
            em_values *out = em_rdd_collect(parsed, &err);
            cr_assert_null(out, "%s parsed", bad[i]);
            g_autofree char *quoted = g_strdup_printf("For input string: \"%s\"", bad[i]);
            cr_assert(strstr(err->message, quoted), "%s", err->message);
            g_error_free(err);
        }
    }
    em_context_free(ctx);
}

static char *java_double(double d)
{
    GString *s = g_string_new(NULL);
    em_format_double(d, s);
    return g_string_free(s, FALSE);
}

static char *java_float(float f)
{
    GString *s = g_string_new(NULL);
    em_format_float(f, s);
    return g_string_free(s, FALSE);
}

/* Expected texts are what JDK 19+ prints (java -e System.out.println(...)). */
Test(stock_functions, float_and_double_to_string_print_as_java)
{
    const struct {
        float f;
        const char *text;
    } floats[] = {
        {0.1f, "0.1"},
        {1.0f, "1.0"},
        {-2.5f, "-2.5"},
        {1.0e10f, "1.0E10"},
        {16777216.0f, "1.6777216E7"},
        {1.0e-4f, "1.0E-4"},
        {0.001f, "0.001"},
        {3.4028235e38f, "3.4028235E38"},
        {1.4e-45f, "1.4E-45"},
        {1.0f / 3, "0.33333334"},
        {100.0f, "100.0"},
        {1234567.0f, "1234567.0"},
        {-0.0f, "-0.0"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(floats); i++) {
        g_autofree char *got = java_float(floats[i].f);
        cr_assert_str_eq(got, floats[i].text);
    }
    const struct {
        double d;
        const char *text;
    } doubles[] = {
        {0.1, "0.1"},
        {1e7, "1.0E7"},
        {9999999.0, "9999999.0"},
        {1.0 / 3, "0.3333333333333333"},
        {(double)0.1f, "0.10000000149011612"},
        {2e-3, "0.002"},
        {4.9e-324, "4.9E-324"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(doubles); i++) {
        g_autofree char *got = java_double(doubles[i].d);
        cr_assert_str_eq(got, doubles[i].text);
    }
    check(em_float_to_string(em_double(0.1), NULL), "0.1", "map fn float");
    check(em_double_to_string(em_int(3), NULL), "3.0", "map fn int as double");
}

Test(stock_functions, sformat_formats_as_scala_string_format)
{
    em_value pair = em_pair(em_str("a"), em_int(1));
    check(em_sformat("%s has %d", pair, em_int(3)), "(a,1) has 3", "s and d");
    check(em_sformat("%.2f%%", em_double(0.125)), "0.13%", "half up on exact tie");
    check(em_sformat("%.1f", em_double(0.15)), "0.2", "half up on shortest decimal");
    check(em_sformat("%.1f", em_double(0.25)), "0.3", "half up");
    check(em_sformat("%.0f", em_double(2.5)), "3", "no point");
    check(em_sformat("%f", em_double(1.0 / 3)), "0.333333", "default precision");
    check(em_sformat("%.2f", em_double(-0.001)), "-0.00", "negative zero kept");
    check(em_sformat("%.2f", em_double(99.999)), "100.00", "carry");
    check(em_sformat("%.3f", em_double(1.5e-7)), "0.000", "tiny");
    check(em_sformat("%.1f", em_double(1.5e10)), "15000000000.0", "large");
    check(em_sformat("%.2f", em_int(7)), "7.00", "int as number");
    check(em_sformat("%s%n", em_double(1e-5)), "1.0E-5\n", "double via s, newline");
}

/* map: the record formatted with the format string in ud, as "fmt".format(record). */
static em_value format_record(em_value v, void *ud) { return em_format_values(ud, &v, 1); }

Test(stock_functions, sformat_fails_on_mismatched_arguments)
{
    static const char *const fmts[] = {"%s %s", "%d", "%x", "%.2d", "no conversion"};
    static const char *const msgs[] = {"too few arguments", "%d of a non-int argument 1",
                                       "unsupported conversion %x",
                                       "unsupported conversion in \"%.2d\"",
                                       "1 arguments for 0 conversions"};
    em_context *ctx = em_context_new("local[1]", "fmt", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(fmts); i++) {
        em_value v = em_str("text");
        g_autoptr(em_rdd) src = em_parallelize(ctx, &v, 1, 1);
        g_autoptr(em_rdd) out = em_rdd_map_full(src, format_record, (void *)fmts[i], NULL, "fmt");
        GError *err = NULL;
        em_values *got = em_rdd_collect(out, &err);
        cr_assert_null(got, "%s formatted", fmts[i]);
        cr_assert(strstr(err->message, msgs[i]), "%s: %s", fmts[i], err->message);
        g_error_free(err);
    }
    em_context_free(ctx);
}

Test(stock_functions, cstr_is_a_nul_terminated_copy)
{
    const char bytes[] = "hello world";
    const char *c = em_cstr(em_strn(bytes, 5));
    cr_assert_str_eq(c, "hello");
    cr_assert_neq(c, bytes);
    cr_assert_str_eq(em_cstr(em_pair(em_str("k"), em_double(2))), "(k,2.0)");
    em_scratch_reset();
}
