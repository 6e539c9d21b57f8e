#include <criterion/criterion.h>
#include "core-private.h"
