/* docs/PORTING.md names every public function: each EM_API declaration of the public headers
 * must appear in it as `name`. */
#include <criterion/criterion.h>
#include <glib.h>

#include <string.h>

/* The function names declared EM_API in text (the identifier before the declaration's first
 * parenthesis; attributes like __attribute__ or G_GNUC_* are skipped). */
static void collect_api(const char *text, GPtrArray *names)
{
    for (const char *p = strstr(text, "EM_API "); p; p = strstr(p + 1, "EM_API ")) {
        const char *paren = strchr(p, '(');
        const char *end = paren;
        while (end > p && (g_ascii_isalnum(end[-1]) || end[-1] == '_'))
            end--;
        g_autofree char *name = g_strndup(end, (size_t)(paren - end));
        if (g_str_has_prefix(name, "em_") && !g_str_has_prefix(name, "em__"))
            g_ptr_array_add(names, g_steal_pointer(&name));
    }
}

Test(porting_guide, every_public_function_is_in_the_guide)
{
    g_autofree char *guide = NULL;
    cr_assert(g_file_get_contents(EMBER_SOURCE_ROOT "/docs/PORTING.md", &guide, NULL, NULL));
    g_autoptr(GDir) dir = g_dir_open(EMBER_SOURCE_ROOT "/include/ember", 0, NULL);
    cr_assert_not_null(dir);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (const char *f; (f = g_dir_read_name(dir));) {
        if (!g_str_has_suffix(f, ".h"))
            continue;
        g_autofree char *path = g_build_filename(EMBER_SOURCE_ROOT "/include/ember", f, NULL);
        g_autofree char *text = NULL;
        cr_assert(g_file_get_contents(path, &text, NULL, NULL));
        collect_api(text, names);
    }
    cr_assert_gt(names->len, 200, "only %u public functions found", names->len);
    GString *missing = g_string_new(NULL);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *quoted = g_strdup_printf("`%s`", (char *)names->pdata[i]);
        g_autofree char *called = g_strdup_printf("`%s(", (char *)names->pdata[i]);
        if (!strstr(guide, quoted) && !strstr(guide, called))
            g_string_append_printf(missing, " %s", (char *)names->pdata[i]);
    }
    cr_assert_eq(missing->len, 0, "missing from docs/PORTING.md:%s", missing->str);
    g_string_free(missing, TRUE);
}
