/* Tests of em_value (core, the record type): Scala-style text, the parser, hashing, equality,
 * order, deep copy and the binary codec. Exact expectations throughout; the expected doubles are
 * what Java's Double.toString prints. */
#include <criterion/criterion.h>

#include "core-private.h"

#include <math.h>
#include <string.h>

/* The arguments of em_tuple_in()/em_list_in() for a literal list of values (sizeof does not
 * evaluate its operand, so each value is built once). */
#define ITEMS(...) (em_value[]){__VA_ARGS__}, sizeof((em_value[]){__VA_ARGS__}) / sizeof(em_value)

static em_arena *arena;

static void setup(void) { arena = em_arena_new(); }

static void teardown(void)
{
    em_arena_free(arena);
    em_scratch_reset();
}

TestSuite(value, .init = setup, .fini = teardown);

static em_value pair(em_value k, em_value v) { return em_pair_in(arena, k, v); }
static em_value some(em_value x) { return em_some_in(arena, x); }

static void assert_formats(em_value v, const char *want)
{
    char *got = em_value_to_string(v);
    cr_assert_str_eq(got, want);
    g_free(got);
}

static em_value parse(const char *text)
{
    GError *err = NULL;
    em_value v;
    bool ok = em_value_parse(text, arena, &v, &err);
    cr_assert(ok, "parsing \"%s\": %s", text, err ? err->message : "");
    return v;
}

static void assert_parse_fails(const char *text, size_t offset, const char *expected)
{
    GError *err = NULL;
    em_value v = em_int(7);
    cr_assert_not(em_value_parse(text, arena, &v, &err), "\"%s\" parsed", text);
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_PARSE));
    char *want = g_strdup_printf("at offset %zu: %s", offset, expected);
    cr_assert(strstr(err->message, want), "\"%s\": want \"%s\" in \"%s\"", text, want,
              err->message);
    cr_assert(em_value_equal(v, em_int(7)), "out written on failure");
    g_free(want);
    g_error_free(err);
}

/* The value nested depth levels deep in Some(...). */
static em_value nested_somes(int depth)
{
    em_value v = em_int(1);
    for (int i = 0; i < depth; i++)
        v = some(v);
    return v;
}

/* ---- Formatting ---- */

Test(value, formats_scalars_like_scala)
{
    assert_formats(em_null(), "null");
    assert_formats(em_bool(true), "true");
    assert_formats(em_bool(false), "false");
    assert_formats(em_int(42), "42");
    assert_formats(em_int(-7), "-7");
    assert_formats(em_int(INT64_MIN), "-9223372036854775808");
    assert_formats(em_int(INT64_MAX), "9223372036854775807");
    assert_formats(em_none(), "None");
}

Test(value, formats_strings_raw_without_quotes_or_escapes)
{
    assert_formats(em_str("apple"), "apple");
    assert_formats(em_str(""), "");
    assert_formats(em_str("a, (b) \"c\"\n\\"), "a, (b) \"c\"\n\\");
}

Test(value, formats_pairs_without_spaces)
{
    assert_formats(pair(em_str("apple"), em_int(4)), "(apple,4)");
    assert_formats(pair(em_str("a b"), em_double(1.5)), "(a b,1.5)");
}

Test(value, formats_nested_pairs_like_scala)
{
    assert_formats(pair(em_str("a"), pair(em_int(1), em_str("x"))), "(a,(1,x))");
    assert_formats(pair(pair(em_int(1), em_int(2)), em_int(3)), "((1,2),3)");
    assert_formats(em_tuple_in(arena, ITEMS(em_str("a"), em_null(), em_bool(true))),
                   "(a,null,true)");
}

Test(value, formats_lists_by_kind_with_comma_space)
{
    assert_formats(em_list_in(arena, ITEMS(em_int(1), em_int(2)), EM_LIST), "List(1, 2)");
    assert_formats(em_list_in(arena, ITEMS(em_int(1), em_int(2)), EM_BUFFER),
                   "CompactBuffer(1, 2)");
    assert_formats(em_list_in(arena, ITEMS(em_int(1), em_int(2)), EM_ARRAY), "Array(1, 2)");
    assert_formats(em_list_in(arena, NULL, 0, EM_LIST), "List()");
    assert_formats(em_list_in(arena, NULL, 0, EM_BUFFER), "CompactBuffer()");
    assert_formats(em_list_in(arena, ITEMS(em_str("x")), EM_ARRAY), "Array(x)");
}

Test(value, formats_nesting_of_every_shape)
{
    em_value words = em_list_in(arena, ITEMS(em_str("a"), em_str("b")), EM_BUFFER);
    em_value cogrouped = pair(em_str("k"), pair(words, em_list_in(arena, NULL, 0, EM_BUFFER)));
    assert_formats(cogrouped, "(k,(CompactBuffer(a, b),CompactBuffer()))");
    assert_formats(some(em_int(3)), "Some(3)");
    assert_formats(pair(em_str("k"), pair(em_int(1), em_none())), "(k,(1,None))");
    assert_formats(some(pair(em_str("a"), em_double(0.5))), "Some((a,0.5))");
    em_value a1 = pair(em_str("a"), em_int(1)), b2 = pair(em_str("b"), em_int(2));
    em_value pairs = em_list_in(arena, ITEMS(a1, b2), EM_LIST);
    assert_formats(pairs, "List((a,1), (b,2))");
    assert_formats(em_list_in(arena, ITEMS(pairs, some(em_null())), EM_ARRAY),
                   "Array(List((a,1), (b,2)), Some(null))");
}

Test(value, format_appends_to_the_string_given)
{
    GString *out = g_string_new("record: ");
    em_value_format(pair(em_str("a"), em_int(1)), out);
    cr_assert_str_eq(out->str, "record: (a,1)");
    g_string_free(out, TRUE);
}

Test(value, formats_doubles_like_java)
{
    static const struct {
        double d;
        const char *text;
    } cases[] = {
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {1.0, "1.0"},
        {0.5, "0.5"},
        {-2.5, "-2.5"},
        {100.0, "100.0"},
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3, "0.3333333333333333"},
        {123.456, "123.456"},
        {1234567.0, "1234567.0"},
        {9999999.0, "9999999.0"},
        {1e7, "1.0E7"},
        {12345678.9, "1.23456789E7"},
        {123456789.0, "1.23456789E8"},
        {1.2345e10, "1.2345E10"},
        {9007199254740992.0, "9.007199254740992E15"},
        {1e21, "1.0E21"},
        {1e23, "1.0E23"},
        {1e100, "1.0E100"},
        {1e-3, "0.001"},
        {0.00123, "0.00123"},
        {0x1.0624dd2f1a9fbp-10, "9.999999999999998E-4"}, /* the double below 0.001 */
        {1e-4, "1.0E-4"},
        {-1.5e-5, "-1.5E-5"},
        {0x1p-24, "5.960464477539063E-8"}, /* shortest, though printf rounds to ...062 */
        {5e-324, "4.9E-324"},
        {2.2250738585072014e-308, "2.2250738585072014E-308"},
        {1.7976931348623157e308, "1.7976931348623157E308"},
        {NAN, "NaN"},
        {INFINITY, "Infinity"},
        {-INFINITY, "-Infinity"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        assert_formats(em_double(cases[i].d), cases[i].text);
}

Test(value, formats_utf8_strings_as_their_bytes)
{
    assert_formats(pair(em_str("café"), em_str("日本語")), "(café,日本語)");
}

Test(value, formats_binary_strings_with_nul_bytes_raw)
{
    GString *out = g_string_new(NULL);
    em_value_format(pair(em_strn("a\0b", 3), em_strn("\xff\0", 2)), out);
    cr_assert_eq(out->len, 8);
    cr_assert_eq(memcmp(out->str, "(a\0b,\xff\0)", 8), 0);
    g_string_free(out, TRUE);
}

/* ---- Parsing ---- */

Test(value, parse_round_trips_formatted_text)
{
    static const char *const texts[] = {
        "null",
        "true",
        "false",
        "None",
        "42",
        "-9223372036854775808",
        "9223372036854775807",
        "0.0",
        "-0.0",
        "1.5",
        "1.0E10",
        "4.9E-324",
        "NaN",
        "Infinity",
        "-Infinity",
        "apple",
        "hello world",
        "(apple,4)",
        "(a b,1)",
        "(a,(1,x))",
        "((1,2),3)",
        "(a,b,c)",
        "Some(3)",
        "Some((k,List(1.5, 2.0)))",
        "List(1, 2)",
        "CompactBuffer(1, 2)",
        "Array(a, b)",
        "List()",
        "(k,(CompactBuffer(a, b),CompactBuffer()))",
        "List((a,1), (b,None))",
        "(café,日本語)",
        "Some(Some(None))",
        "(f(x,y),1)",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
        assert_formats(parse(texts[i]), texts[i]);
}

Test(value, parse_reads_types_of_bare_tokens)
{
    em_value kv = parse("(apple,4)");
    cr_assert(em_is_pair(kv));
    cr_assert(em_value_equal(em_key(kv), em_str("apple")));
    cr_assert(em_value_equal(em_val(kv), em_int(4)));
    cr_assert(em_value_equal(parse("1e3"), em_double(1000.0)));
    cr_assert(em_value_equal(parse("2.5E-3"), em_double(0.0025)));
    cr_assert(em_value_equal(parse("-7"), em_int(-7)));
    cr_assert(em_value_equal(parse("+7"), em_int(7)));
    cr_assert(em_value_equal(parse("1."), em_double(1.0)));
    cr_assert(em_value_equal(parse("1e"), em_str("1e")));
    cr_assert(em_value_equal(parse("0x10"), em_str("0x10")));
    cr_assert(em_value_equal(parse("nan"), em_str("nan")));
    cr_assert(em_value_equal(parse("Some"), em_str("Some")));
    cr_assert(em_value_equal(parse("NaN"), em_double(NAN)));
    cr_assert(signbit(em_as_double(parse("-0.0"))));
    cr_assert_eq(em_type_of(parse("true")), EM_T_BOOL);
    cr_assert_eq(em_type_of(parse("null")), EM_T_NULL);
    cr_assert_eq(em_type_of(parse("None")), EM_T_NONE);
}

Test(value, parse_trims_blanks_but_keeps_inner_ones)
{
    em_value kv = parse("  (  x y  ,\t2 )  ");
    cr_assert(em_value_equal(em_key(kv), em_str("x y")));
    cr_assert(em_value_equal(em_val(kv), em_int(2)));
    assert_formats(parse("List( 1 ,2 )"), "List(1, 2)");
}

Test(value, parse_keeps_parentheses_inside_bare_strings)
{
    em_value kv = parse("(f(x, y),1)");
    cr_assert(em_value_equal(em_key(kv), em_str("f(x, y)")));
    cr_assert(em_value_equal(em_val(kv), em_int(1)));
}

Test(value, parse_takes_a_parenthesised_single_value_as_the_value)
{
    cr_assert(em_value_equal(parse("(x)"), em_str("x")));
    cr_assert(em_value_equal(parse("((1,2))"), pair(em_int(1), em_int(2))));
}

Test(value, parse_keeps_list_kinds)
{
    cr_assert_eq(parse("List(1)").kind, EM_LIST);
    cr_assert_eq(parse("CompactBuffer(1)").kind, EM_BUFFER);
    cr_assert_eq(parse("Array()").kind, EM_ARRAY);
    cr_assert_eq(em_list_len(parse("Array()")), 0);
}

Test(value, parse_reads_quoted_strings_with_escapes)
{
    cr_assert(em_value_equal(parse("\"a,b)\""), em_str("a,b)")));
    cr_assert(em_value_equal(parse("\"say \\\"hi\\\"\""), em_str("say \"hi\"")));
    cr_assert(em_value_equal(parse("\"\\\\ \\n\\t\""), em_str("\\ \n\t")));
    cr_assert(em_value_equal(parse("\"42\""), em_str("42")));
    cr_assert(em_value_equal(parse("\" null \""), em_str(" null ")));
    em_value kv = parse("( \"\" , \"x)\" )");
    cr_assert(em_value_equal(em_key(kv), em_str("")));
    cr_assert(em_value_equal(em_val(kv), em_str("x)")));
}

Test(value, parse_puts_payload_in_the_arena)
{
    char *text = g_strdup("(word,List(a, \"b\"))");
    size_t before = em_arena_bytes(arena);
    em_value v = parse(text);
    memset(text, 'z', strlen(text));
    g_free(text);
    cr_assert_gt(em_arena_bytes(arena), before);
    assert_formats(v, "(word,List(a, b))");
}

Test(value, parse_reads_utf8_bare_strings)
{
    em_value kv = parse("(日本語, 3)");
    cr_assert(em_value_equal(em_key(kv), em_str("日本語")));
    cr_assert_eq(em_str_len(em_key(kv)), 9);
}

Test(value, parse_errors_name_the_offset_and_what_was_expected)
{
    assert_parse_fails("", 0, "expected a value");
    assert_parse_fails("   ", 3, "expected a value");
    assert_parse_fails("(a,(1,2", 7, "expected ',' or ')'");
    assert_parse_fails("()", 1, "expected a value");
    assert_parse_fails("(1,)", 3, "expected a value");
    assert_parse_fails("List(1,,2)", 7, "expected a value");
    assert_parse_fails("(\"a\" b,1)", 5, "expected ',' or ')'");
    assert_parse_fails("Some(1", 6, "expected ')'");
    assert_parse_fails("Some(1,2)", 6, "expected ')'");
    assert_parse_fails("Some()", 5, "expected a value");
    assert_parse_fails("(1,2)x", 5, "expected end of input");
    assert_parse_fails("(1,2))", 5, "expected end of input");
    assert_parse_fails("a,b", 1, "expected end of input");
    assert_parse_fails("\"abc", 4, "expected closing '\"'");
    assert_parse_fails("(\"a\\", 4, "expected closing '\"'");
    assert_parse_fails("\"a\\qb\"", 2, "expected \\\" \\\\ \\n or \\t");
    assert_parse_fails("9223372036854775808", 0, "expected an integer within 64 bits");
    assert_parse_fails("(x,-9223372036854775809)", 3, "expected an integer within 64 bits");
    assert_parse_fails("1e999", 0, "expected a double within range");
}

Test(value, parse_error_message_quotes_the_text)
{
    GError *err = NULL;
    em_value v;
    cr_assert_not(em_value_parse("(a,(1,2", arena, &v, &err));
    cr_assert_str_eq(err->message,
                     "em_value_parse: at offset 7: expected ',' or ')' in \"(a,(1,2\"");
    g_error_free(err);
}

Test(value, parse_error_in_long_text_quotes_around_the_offset)
{
    GString *text = g_string_new("(");
    for (int i = 0; i < 100; i++)
        g_string_append(text, "x,");
    g_string_append(text, ")");
    GError *err = NULL;
    em_value v;
    cr_assert_not(em_value_parse(text->str, arena, &v, &err));
    cr_assert_str_eq(err->message, "em_value_parse: at offset 201: expected a value in "
                                   "\"...x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,)\"");
    g_error_free(err);
    g_string_free(text, TRUE);
}

Test(value, parse_accepts_nesting_up_to_64_and_refuses_deeper)
{
    GString *text = g_string_new(NULL);
    for (int i = 0; i < 64; i++)
        g_string_append(text, "Some(");
    g_string_append(text, "1");
    for (int i = 0; i < 64; i++)
        g_string_append_c(text, ')');
    cr_assert(em_value_equal(parse(text->str), nested_somes(64)));
    g_string_prepend(text, "(");
    g_string_append(text, ",1)");
    assert_parse_fails(text->str, 321, "expected nesting no deeper than 64");
    g_string_free(text, TRUE);
}

Test(value, parse_of_hostile_nesting_fails_without_exhausting_the_stack)
{
    char *text = g_strnfill(1000000, '(');
    assert_parse_fails(text, 65, "expected nesting no deeper than 64");
    g_free(text);
}

Test(value, values_parse_splits_at_top_level_commas)
{
    em_value *vs = NULL;
    size_t n = 0;
    GError *err = NULL;
    cr_assert(em_values_parse("a, (b,1), 3, List(x, y)", arena, &vs, &n, &err));
    cr_assert_eq(n, 4);
    assert_formats(vs[0], "a");
    assert_formats(vs[1], "(b,1)");
    assert_formats(vs[2], "3");
    assert_formats(vs[3], "List(x, y)");
    g_free(vs);
}

Test(value, values_parse_of_blank_text_gives_no_values)
{
    em_value *vs = (em_value *)&vs;
    size_t n = 9;
    cr_assert(em_values_parse("", arena, &vs, &n, NULL));
    cr_assert_eq(n, 0);
    cr_assert_null(vs);
    cr_assert(em_values_parse(" \t ", arena, &vs, &n, NULL));
    cr_assert_eq(n, 0);
}

Test(value, values_parse_grows_past_its_inline_stack)
{
    GString *text = g_string_new(NULL);
    for (int i = 0; i < 1000; i++)
        g_string_append_printf(text, "%s(k%d,List(%d, %d))", i ? ", " : "", i, i, -i);
    em_value *vs;
    size_t n;
    cr_assert(em_values_parse(text->str, arena, &vs, &n, NULL));
    cr_assert_eq(n, 1000);
    assert_formats(vs[999], "(k999,List(999, -999))");
    g_free(vs);
    g_string_free(text, TRUE);
}

Test(value, values_parse_errors_name_the_offset)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        {"a,,b", "em_values_parse: at offset 2: expected a value in \"a,,b\""},
        {"a,", "em_values_parse: at offset 2: expected a value in \"a,\""},
        {"a, ", "em_values_parse: at offset 3: expected a value in \"a, \""},
        {"a)b", "em_values_parse: at offset 1: expected ',' or end of input in \"a)b\""},
        {"(1,2) x", "em_values_parse: at offset 6: expected ',' or end of input in \"(1,2) x\""},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        em_value *vs = (em_value *)&vs;
        size_t n = 9;
        GError *err = NULL;
        cr_assert_not(em_values_parse(cases[i].text, arena, &vs, &n, &err));
        cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_PARSE));
        cr_assert_str_eq(err->message, cases[i].message);
        cr_assert_null(vs);
        cr_assert_eq(n, 0);
        g_error_free(err);
    }
}

/* ---- Hashing and equality ---- */

static em_value build_record(em_arena *a)
{
    em_value words = em_list_in(a, ITEMS(em_str_dup_in(a, "x", 1), em_double(2.5)), EM_BUFFER);
    em_value inner = em_pair_in(a, words, em_null());
    return em_pair_in(a, em_str_dup_in(a, "key", 3), em_some_in(a, inner));
}

Test(value, hash_is_equal_for_equal_values_in_different_arenas)
{
    em_arena *other = em_arena_new();
    em_value a = build_record(arena), b = build_record(other);
    cr_assert_neq(em_str_ptr(em_key(a)), em_str_ptr(em_key(b)));
    cr_assert(em_value_equal(a, b));
    cr_assert_eq(em_value_hash(a), em_value_hash(b));
    cr_assert_eq(em_value_compare(a, b), 0);
    em_arena_free(other);
}

Test(value, hash_differs_for_values_that_differ)
{
    cr_assert_neq(em_value_hash(em_str("a")), em_value_hash(em_str("b")));
    cr_assert_neq(em_value_hash(em_int(1)), em_value_hash(em_int(2)));
    cr_assert_neq(em_value_hash(pair(em_int(1), em_int(2))),
                  em_value_hash(pair(em_int(2), em_int(1))));
}

Test(value, int_and_double_of_the_same_number_differ)
{
    cr_assert_not(em_value_equal(em_int(1), em_double(1.0)));
    cr_assert_lt(em_value_compare(em_int(1), em_double(1.0)), 0);
}

Test(value, nan_equals_nan_with_equal_hashes)
{
    em_value a = em_double(NAN), b = em_double(-NAN);
    cr_assert(em_value_equal(a, a));
    cr_assert(em_value_equal(a, b));
    cr_assert_eq(em_value_hash(a), em_value_hash(b));
    cr_assert_eq(em_value_compare(a, b), 0);
}

Test(value, negative_zero_equals_zero_with_equal_hashes)
{
    em_value a = em_double(-0.0), b = em_double(0.0);
    cr_assert(em_value_equal(a, b));
    cr_assert_eq(em_value_hash(a), em_value_hash(b));
    cr_assert_eq(em_value_compare(a, b), 0);
}

Test(value, list_kind_takes_no_part_in_equality_order_or_hash)
{
    em_value l = em_list_in(arena, ITEMS(em_int(1), em_int(2)), EM_LIST);
    em_value b = em_list_in(arena, ITEMS(em_int(1), em_int(2)), EM_BUFFER);
    cr_assert(em_value_equal(l, b));
    cr_assert_eq(em_value_hash(l), em_value_hash(b));
    cr_assert_eq(em_value_compare(l, b), 0);
}

Test(value, equality_compares_shapes_deeply)
{
    cr_assert(em_value_equal(em_null(), em_null()));
    cr_assert(em_value_equal(em_none(), em_none()));
    cr_assert_not(em_value_equal(em_none(), em_null()));
    cr_assert(em_value_equal(some(em_int(1)), some(em_int(1))));
    cr_assert_not(em_value_equal(some(em_int(1)), some(em_int(2))));
    cr_assert_not(em_value_equal(some(em_int(1)), em_int(1)));
    cr_assert_not(em_value_equal(pair(em_int(1), em_int(2)),
                                 em_tuple_in(arena, ITEMS(em_int(1), em_int(2), em_int(3)))));
    cr_assert_not(em_value_equal(pair(em_int(1), em_int(2)),
                                 em_list_in(arena, ITEMS(em_int(1), em_int(2)), EM_LIST)));
    cr_assert_not(em_value_equal(em_str("ab"), em_str("abc")));
    cr_assert(em_value_equal(em_strn("", 0), em_strn(NULL, 0)));
}

Test(value, binary_strings_with_nul_bytes_compare_hash_and_copy_whole)
{
    em_value a = em_strn("a\0b", 3), same = em_str_dup_in(arena, "a\0b", 3);
    em_value c = em_strn("a\0c", 3), a_only = em_strn("a", 1);
    cr_assert(em_value_equal(a, same));
    cr_assert_eq(em_value_hash(a), em_value_hash(same));
    cr_assert_not(em_value_equal(a, c));
    cr_assert_neq(em_value_hash(a), em_value_hash(c));
    cr_assert_lt(em_value_compare(a, c), 0);
    cr_assert_lt(em_value_compare(a_only, a), 0);
    cr_assert_not(em_value_equal(a_only, a));
    em_value copy = em_value_copy(a, arena);
    cr_assert_eq(em_str_len(copy), 3);
    cr_assert_eq(memcmp(em_str_ptr(copy), "a\0b", 3), 0);
}

/* ---- Order ---- */

static int compare_values(const void *a, const void *b)
{
    return em_value_compare(*(const em_value *)a, *(const em_value *)b);
}

Test(value, compare_orders_types_first)
{
    em_value want[] = {
        em_null(),
        em_bool(false),
        em_bool(true),
        em_int(INT64_MIN),
        em_int(-1),
        em_int(INT64_MAX),
        em_double(-INFINITY),
        em_double(-1.5),
        em_double(0),
        em_double(INFINITY),
        em_double(NAN),
        em_str(""),
        em_str("a"),
        pair(em_int(1), em_int(2)),
        em_list_in(arena, NULL, 0, EM_LIST),
        em_none(),
        some(em_int(0)),
    };
    size_t n = G_N_ELEMENTS(want);
    em_value got[G_N_ELEMENTS(want)];
    for (size_t i = 0; i < n; i++)
        got[i] = want[(i * 7 + 3) % n]; /* a permutation: 7 and 17 are coprime */
    qsort(got, n, sizeof *got, compare_values);
    for (size_t i = 0; i < n; i++)
        cr_assert(em_value_equal(got[i], want[i]), "position %zu", i);
    for (size_t i = 0; i + 1 < n; i++) {
        cr_assert_lt(em_value_compare(want[i], want[i + 1]), 0, "position %zu", i);
        cr_assert_gt(em_value_compare(want[i + 1], want[i]), 0, "position %zu", i);
    }
}

Test(value, compare_orders_strings_bytewise_shorter_prefix_first)
{
    cr_assert_lt(em_value_compare(em_str("a"), em_str("b")), 0);
    cr_assert_lt(em_value_compare(em_str("B"), em_str("a")), 0);
    cr_assert_lt(em_value_compare(em_str("ab"), em_str("abc")), 0);
    cr_assert_lt(em_value_compare(em_str(""), em_str("a")), 0);
    cr_assert_lt(em_value_compare(em_str("z"), em_str("\xff")), 0);
    cr_assert_lt(em_value_compare(em_str("z"), em_str("é")), 0);
    cr_assert_eq(em_value_compare(em_str("abc"), em_strn("abcd", 3)), 0);
}

Test(value, compare_orders_tuples_and_lists_field_by_field)
{
    cr_assert_lt(em_value_compare(pair(em_int(1), em_str("z")), pair(em_int(2), em_str("a"))), 0);
    cr_assert_lt(em_value_compare(pair(em_int(1), em_str("a")), pair(em_int(1), em_str("b"))), 0);
    cr_assert_lt(em_value_compare(pair(em_int(1), em_int(2)),
                                  em_tuple_in(arena, ITEMS(em_int(1), em_int(2), em_int(0)))),
                 0);
    em_value l12 = em_list_in(arena, ITEMS(em_int(1), em_int(2)), EM_LIST);
    em_value l2 = em_list_in(arena, ITEMS(em_int(2)), EM_LIST);
    em_value l1 = em_list_in(arena, ITEMS(em_int(1)), EM_LIST);
    cr_assert_lt(em_value_compare(l12, l2), 0);
    cr_assert_lt(em_value_compare(l1, l12), 0);
    cr_assert_lt(em_value_compare(some(em_int(1)), some(em_int(2))), 0);
}

/* ---- Deep copy ---- */

Test(value, copy_survives_reset_and_free_of_the_source_arena)
{
    em_arena *src = em_arena_new();
    em_value v = build_record(src);
    size_t size = em_value_payload_size(v);
    em_value copy = em_value_copy(v, arena);
    em_arena_reset(src);
    memset(em_arena_alloc(src, 4000), 0xa5, 4000); /* overwrite where the source lived */
    assert_formats(copy, "(key,Some((CompactBuffer(x, 2.5),null)))");
    em_arena_free(src);
    assert_formats(copy, "(key,Some((CompactBuffer(x, 2.5),null)))");
    cr_assert_eq(em_value_payload_size(copy), size);
    cr_assert_eq(copy.as.items[1].as.items[0].as.items[0].kind, EM_BUFFER);
}

Test(value, copy_returns_scalars_as_they_are)
{
    size_t before = em_arena_bytes(arena);
    em_value scalars[] = {em_null(), em_bool(true), em_int(-3), em_double(2.5), em_none()};
    for (size_t i = 0; i < G_N_ELEMENTS(scalars); i++) {
        em_value c = em_value_copy(scalars[i], arena);
        cr_assert_eq(memcmp(&c, &scalars[i], sizeof c), 0);
        cr_assert_eq(em_value_payload_size(scalars[i]), 0);
    }
    cr_assert_eq(em_arena_bytes(arena), before);
}

Test(value, payload_size_counts_items_and_padded_string_bytes)
{
    cr_assert_eq(em_value_payload_size(em_str("abc")), 8);
    cr_assert_eq(em_value_payload_size(em_str("12345678")), 8);
    cr_assert_eq(em_value_payload_size(pair(em_str("abc"), em_int(1))), 2 * 16 + 8);
    cr_assert_eq(em_value_payload_size(some(em_int(1))), 16);
    cr_assert_eq(em_value_payload_size(em_list_in(arena, NULL, 0, EM_LIST)), 0);
}

/* ---- Binary codec ---- */

static GByteArray *encode(em_value v)
{
    GByteArray *out = g_byte_array_new();
    em_value_encode(v, out);
    return out;
}

/* Decodes bytes as one value, asserting that it uses them all. */
static em_value decode(const GByteArray *bytes)
{
    GError *err = NULL;
    em_value v;
    size_t used = 0;
    bool ok = em_value_decode(bytes->data, bytes->len, &used, arena, &v, &err);
    cr_assert(ok, "%s", err ? err->message : "");
    cr_assert_eq(used, bytes->len);
    return v;
}

static void assert_corrupt(const uint8_t *buf, size_t len, const char *message)
{
    GError *err = NULL;
    em_value v;
    cr_assert_not(em_value_decode(buf, len, NULL, arena, &v, &err));
    cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_CORRUPT));
    cr_assert_str_eq(err->message, message);
    g_error_free(err);
}

/* One value of every type and shape. */
static em_value every_type(void)
{
    em_value scalars =
        em_tuple_in(arena, ITEMS(em_null(), em_bool(false), em_bool(true), em_int(0), em_int(-1),
                                 em_int(63), em_int(-64), em_int(64), em_int(INT64_MIN),
                                 em_int(INT64_MAX), em_none()));
    em_value doubles = em_list_in(arena,
                                  ITEMS(em_double(0.0), em_double(-0.0), em_double(0.1),
                                        em_double(-1e300), em_double(5e-324), em_double(NAN),
                                        em_double(INFINITY), em_double(-INFINITY)),
                                  EM_ARRAY);
    em_value strings = em_list_in(arena,
                                  ITEMS(em_str(""), em_str("apple"), em_strn("a\0b\xff", 4),
                                        em_str("日本語"), em_str("(a,\"b\")")),
                                  EM_BUFFER);
    em_value lists = em_list_in(arena,
                                ITEMS(em_list_in(arena, NULL, 0, EM_LIST),
                                      em_list_in(arena, NULL, 0, EM_BUFFER),
                                      em_list_in(arena, NULL, 0, EM_ARRAY)),
                                EM_LIST);
    em_value option = some(pair(em_str("k"), some(em_none())));
    return em_tuple_in(arena, ITEMS(scalars, doubles, strings, lists, option));
}

Test(value, codec_round_trips_every_type)
{
    em_value v = every_type();
    GByteArray *bytes = encode(v);
    em_value back = decode(bytes);
    cr_assert(em_value_equal(back, v));
    char *want = em_value_to_string(v), *got = em_value_to_string(back);
    cr_assert_str_eq(got, want); /* also proves list kinds and -0.0 survive */
    g_free(want);
    g_free(got);
    g_byte_array_free(bytes, TRUE);
}

Test(value, codec_round_trips_each_value_alone)
{
    em_value all = every_type();
    for (uint32_t i = 0; i < all.len; i++) { /* each tuple and list of every_type() */
        em_value group = em_field(all, i);
        for (uint32_t j = 0; j < group.len; j++) {
            em_value v = em_field(group, j);
            GByteArray *bytes = encode(v);
            em_value back = decode(bytes);
            cr_assert(em_value_equal(back, v), "group %u item %u", i, j);
            cr_assert_eq(back.kind, v.kind);
            g_byte_array_free(bytes, TRUE);
        }
    }
}

Test(value, codec_keeps_double_bits)
{
    double ds[] = {-0.0, 5e-324, -NAN, 0x1.fffffffffffffp1023};
    for (size_t i = 0; i < G_N_ELEMENTS(ds); i++) {
        GByteArray *bytes = encode(em_double(ds[i]));
        double back = em_as_double(decode(bytes));
        cr_assert_eq(memcmp(&back, &ds[i], 8), 0, "case %zu", i);
        g_byte_array_free(bytes, TRUE);
    }
}

Test(value, codec_round_trips_nesting_up_to_64)
{
    em_value v = nested_somes(64);
    GByteArray *bytes = encode(v);
    cr_assert(em_value_equal(decode(bytes), v));
    g_byte_array_free(bytes, TRUE);
}

Test(value, codec_encodes_compactly)
{
    static const struct {
        em_value v;
        size_t len;
        uint8_t bytes[12];
    } cases[] = {
        {{.type = EM_T_NULL}, 1, {0x00}},
        {{.type = EM_T_BOOL, .as.i = 1}, 1, {0x11}},
        {{.type = EM_T_INT, .as.i = 1}, 2, {0x02, 0x02}},
        {{.type = EM_T_INT, .as.i = -1}, 2, {0x02, 0x01}},
        {{.type = EM_T_INT, .as.i = 300}, 3, {0x02, 0xd8, 0x04}},
        {{.type = EM_T_INT, .as.i = INT64_MIN},
         11,
         {0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
        {{.type = EM_T_DOUBLE, .as.d = 1.0}, 9, {0x03, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
        {{.type = EM_T_STR, .len = 2, .as.s = "hi"}, 4, {0x04, 0x02, 'h', 'i'}},
        {{.type = EM_T_LIST, .kind = EM_BUFFER}, 2, {0x16, 0x00}},
        {{.type = EM_T_NONE}, 1, {0x08}},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GByteArray *bytes = encode(cases[i].v);
        cr_assert_eq(bytes->len, cases[i].len, "case %zu", i);
        cr_assert_eq(memcmp(bytes->data, cases[i].bytes, cases[i].len), 0, "case %zu", i);
        g_byte_array_free(bytes, TRUE);
    }
}

Test(value, codec_block_is_magic_version_count_then_values)
{
    em_value vs[] = {em_int(1), pair(em_str("a"), em_bool(false))};
    GByteArray *bytes = g_byte_array_new();
    em_values_encode(vs, 2, bytes);
    static const uint8_t want[] = {'E',  'M',  'V',  EM_CODEC_VERSION,
                                   2,    0x02, 0x02, 0x05,
                                   0x02, 0x04, 0x01, 'a',
                                   0x01};
    cr_assert_eq(bytes->len, sizeof want);
    cr_assert_eq(memcmp(bytes->data, want, sizeof want), 0);
    em_value *back;
    size_t n;
    cr_assert(em_values_decode(bytes->data, bytes->len, arena, &back, &n, NULL));
    cr_assert_eq(n, 2);
    cr_assert(em_value_equal(back[0], vs[0]));
    cr_assert(em_value_equal(back[1], vs[1]));
    g_free(back);
    g_byte_array_free(bytes, TRUE);
}

Test(value, codec_block_of_no_values)
{
    GByteArray *bytes = g_byte_array_new();
    em_values_encode(NULL, 0, bytes);
    cr_assert_eq(bytes->len, 5);
    em_value *back = (em_value *)&back;
    size_t n = 9;
    cr_assert(em_values_decode(bytes->data, bytes->len, arena, &back, &n, NULL));
    cr_assert_eq(n, 0);
    cr_assert_null(back);
    g_byte_array_free(bytes, TRUE);
}

Test(value, decode_reports_the_bytes_used_for_concatenated_values)
{
    GByteArray *bytes = g_byte_array_new();
    em_value_encode(em_str("first"), bytes);
    em_value_encode(em_int(2), bytes);
    em_value v;
    size_t used;
    cr_assert(em_value_decode(bytes->data, bytes->len, &used, arena, &v, NULL));
    cr_assert_eq(used, 7);
    cr_assert(em_value_equal(v, em_str("first")));
    cr_assert(em_value_decode(bytes->data + used, bytes->len - used, &used, arena, &v, NULL));
    cr_assert_eq(used, 2);
    cr_assert(em_value_equal(v, em_int(2)));
    g_byte_array_free(bytes, TRUE);
}

Test(value, decode_puts_payload_in_the_arena)
{
    GByteArray *bytes = encode(pair(em_str("key"), em_str("value")));
    em_value v = decode(bytes);
    memset(bytes->data, 0, bytes->len);
    g_byte_array_free(bytes, TRUE);
    assert_formats(v, "(key,value)");
}

Test(value, decode_rejects_every_truncation_of_a_value)
{
    GByteArray *bytes = encode(every_type());
    for (size_t len = 0; len < bytes->len; len++) {
        em_value v = em_int(7);
        GError *err = NULL;
        size_t used = 99;
        cr_assert_not(em_value_decode(bytes->data, len, &used, arena, &v, &err), "len %zu", len);
        cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_CORRUPT));
        cr_assert(strstr(err->message, "truncated") || strstr(err->message, "remaining"),
                  "len %zu: %s", len, err->message);
        cr_assert(em_value_equal(v, em_int(7)));
        cr_assert_eq(used, 99);
        g_error_free(err);
    }
    g_byte_array_free(bytes, TRUE);
}

Test(value, values_decode_rejects_every_truncation_of_a_block)
{
    em_value vs[] = {every_type(), em_str("tail"), em_int(-5)};
    GByteArray *bytes = g_byte_array_new();
    em_values_encode(vs, G_N_ELEMENTS(vs), bytes);
    for (size_t len = 0; len < bytes->len; len++) {
        em_value *out = (em_value *)&out;
        size_t n = 9;
        GError *err = NULL;
        cr_assert_not(em_values_decode(bytes->data, len, arena, &out, &n, &err), "len %zu", len);
        cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_CORRUPT), "len %zu", len);
        cr_assert(g_str_has_prefix(err->message, "em_values_decode: at offset "));
        cr_assert_null(out);
        cr_assert_eq(n, 0);
        g_error_free(err);
    }
    g_byte_array_free(bytes, TRUE);
}

Test(value, values_decode_rejects_wrong_magic_version_and_trailing_bytes)
{
    static const struct {
        uint8_t bytes[8];
        size_t len;
        const char *message;
    } cases[] = {
        {{'E', 'M', 'X', 1, 0}, 5, "em_values_decode: at offset 0: expected the magic \"EMV\""},
        {{'E', 'M'}, 2, "em_values_decode: at offset 0: expected the magic \"EMV\""},
        {{'E', 'M', 'V'}, 3, "em_values_decode: at offset 3: truncated header"},
        {{'E', 'M', 'V', 2, 0},
         5,
         "em_values_decode: at offset 3: unknown codec version 2 (expected 1)"},
        {{'E', 'M', 'V', 0, 0},
         5,
         "em_values_decode: at offset 3: unknown codec version 0 (expected 1)"},
        {{'E', 'M', 'V', 1, 1, 0x00, 0x00},
         7,
         "em_values_decode: at offset 6: trailing bytes after the last value"},
        {{'E', 'M', 'V', 1, 5, 0x00},
         6,
         "em_values_decode: at offset 4: length larger than the bytes remaining"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        em_value *out;
        size_t n;
        GError *err = NULL;
        cr_assert_not(em_values_decode(cases[i].bytes, cases[i].len, arena, &out, &n, &err));
        cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_CORRUPT));
        cr_assert_str_eq(err->message, cases[i].message);
        g_error_free(err);
    }
}

Test(value, decode_rejects_malformed_bytes_naming_the_offset)
{
    assert_corrupt((const uint8_t *)"", 0, "em_value_decode: at offset 0: truncated value");
    /* Types 9 and 15; a list of kind 3; a bool of 2; an int with info bits. */
    static const uint8_t bad_tags[] = {0x09, 0x0f, 0x36, 0x21, 0x12};
    for (size_t i = 0; i < G_N_ELEMENTS(bad_tags); i++) {
        uint8_t buf[] = {bad_tags[i], 0x00};
        char *want =
            g_strdup_printf("em_value_decode: at offset 0: unknown type byte 0x%02x", bad_tags[i]);
        assert_corrupt(buf, sizeof buf, want);
        g_free(want);
    }
    assert_corrupt((const uint8_t[]){0x05, 0x01, 0x00}, 3,
                   "em_value_decode: at offset 0: tuple of fewer than 2 fields");
    assert_corrupt((const uint8_t[]){0x04, 0x05, 'a', 'b'}, 4,
                   "em_value_decode: at offset 1: length larger than the bytes remaining");
    assert_corrupt((const uint8_t[]){0x06, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00}, 7,
                   "em_value_decode: at offset 1: length larger than the bytes remaining");
    assert_corrupt((const uint8_t[]){0x02, 0x80, 0x80}, 3,
                   "em_value_decode: at offset 3: truncated varint");
    assert_corrupt((const uint8_t[]){0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                     0x02},
                   11, "em_value_decode: at offset 1: varint longer than 64 bits");
    assert_corrupt((const uint8_t[]){0x03, 0, 0, 0, 0, 0, 0, 0}, 8,
                   "em_value_decode: at offset 1: truncated double");
    assert_corrupt((const uint8_t[]){0x05, 0x02, 0x00, 0x04, 0x01}, 5,
                   "em_value_decode: at offset 4: length larger than the bytes remaining");
}

Test(value, decode_rejects_nesting_deeper_than_64)
{
    GByteArray *bytes = encode(nested_somes(65));
    assert_corrupt(bytes->data, bytes->len,
                   "em_value_decode: at offset 65: nesting deeper than 64");
    g_byte_array_free(bytes, TRUE);
}

Test(value, decode_of_hostile_nesting_fails_without_exhausting_the_stack)
{
    uint8_t *somes = g_malloc(1000000);
    memset(somes, EM_T_SOME, 1000000);
    assert_corrupt(somes, 1000000, "em_value_decode: at offset 65: nesting deeper than 64");
    g_free(somes);
}

Test(value, decode_of_mutated_bytes_never_reads_out_of_bounds)
{
    GByteArray *bytes = encode(every_type());
    GRand *rand = g_rand_new_with_seed(42);
    for (int round = 0; round < 20000; round++) {
        /* An exact-size copy, so ASan catches any read past the end. */
        uint8_t *copy = g_memdup2(bytes->data, bytes->len);
        for (int k = g_rand_int_range(rand, 1, 4); k > 0; k--)
            copy[g_rand_int_range(rand, 0, (gint32)bytes->len)] = (uint8_t)g_rand_int(rand);
        size_t len = (size_t)g_rand_int_range(rand, 0, (gint32)bytes->len + 1);
        em_value v;
        size_t used = 0;
        GError *err = NULL;
        if (em_value_decode(copy, len, &used, arena, &v, &err))
            cr_assert_leq(used, len);
        else
            cr_assert(g_error_matches(err, EM_ERROR, EM_ERROR_CORRUPT));
        g_clear_error(&err);
        g_free(copy);
        if (round % 1000 == 999)
            em_arena_reset(arena);
    }
    g_rand_free(rand);
    g_byte_array_free(bytes, TRUE);
}
