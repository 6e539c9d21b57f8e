/* Shared definitions: export macro, error domain and codes. */
#ifndef EMBER_COMMON_H
#define EMBER_COMMON_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(_WIN32)
#define EM_API
#else
#define EM_API __attribute__((visibility("default")))
#endif

/* The GError domain of every error Ember reports. */
#define EM_ERROR (em_error_quark())
EM_API GQuark em_error_quark(void);

/* Error codes in the EM_ERROR domain. */
typedef enum em_error_code {
    EM_ERROR_INVALID, /* a bad argument or a misuse of the API */
    EM_ERROR_IO,      /* a file, socket or directory could not be read or written */
    EM_ERROR_PARSE,   /* text or bytes that do not follow the expected format */
    EM_ERROR_TASK,    /* a task of a job failed (a user function failed a record) */
    EM_ERROR_EXISTS,  /* an output path exists already */
    EM_ERROR_CORRUPT, /* a checkpoint, log or encoded buffer failed its checks */
} em_error_code;

#endif
