/* <ember/version.h> and em_version(): generated from meson.build's version, which the build
 * passes to this file as EMBER_MESON_VERSION, so a hand-edited version cannot drift. */
#include <criterion/criterion.h>

#include <ember.h>

#include <stdio.h>

Test(version, macros_match_the_project_version)
{
    char joined[64];
    snprintf(joined, sizeof joined, "%d.%d.%d", EM_VERSION_MAJOR, EM_VERSION_MINOR,
             EM_VERSION_PATCH);
    cr_assert_str_eq(EM_VERSION_STRING, EMBER_MESON_VERSION);
    cr_assert_str_eq(joined, EMBER_MESON_VERSION);
}

Test(version, em_version_is_the_linked_library_version)
{
    cr_assert_str_eq(em_version(), EMBER_MESON_VERSION);
}

Test(version, check_version_compares_major_minor_patch_in_order)
{
    cr_assert(EM_CHECK_VERSION(EM_VERSION_MAJOR, EM_VERSION_MINOR, EM_VERSION_PATCH));
    cr_assert(EM_CHECK_VERSION(0, 0, 0));
    cr_assert_not(EM_CHECK_VERSION(EM_VERSION_MAJOR + 1, 0, 0));
    cr_assert_not(EM_CHECK_VERSION(EM_VERSION_MAJOR, EM_VERSION_MINOR + 1, 0));
    cr_assert_not(EM_CHECK_VERSION(EM_VERSION_MAJOR, EM_VERSION_MINOR, EM_VERSION_PATCH + 1));
#if EM_VERSION_MINOR > 0
    cr_assert(EM_CHECK_VERSION(EM_VERSION_MAJOR, EM_VERSION_MINOR - 1, 99));
#endif
#if EM_VERSION_MAJOR > 0
    cr_assert(EM_CHECK_VERSION(EM_VERSION_MAJOR - 1, 99, 99));
#endif
}
