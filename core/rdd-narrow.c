/* (placeholder: being written) */
#include "core-private.h"
