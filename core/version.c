/* em_version(): the library's own version, for programs that check what they run against
 * (core; the macros are in the generated <ember/version.h>). */
#include "core-private.h"

const char *em_version(void) { return EM_VERSION_STRING; }
