/* em_value: the one record type. A tagged 16-byte value passed by value.
 *
 * Scalars (null, bool, int64, double) are held inline. Strings, tuples, lists and Some(x) point at
 * payload owned by somebody else: an arena (a partition's, a batch's, a task's scratch) or static
 * memory. Copying an em_value copies the reference; em_value_copy() copies the payload too. */
#ifndef EMBER_VALUE_H
#define EMBER_VALUE_H

#if !defined(EMBER_INSIDE) && !defined(EMBER_COMPILATION)
#error "Only <ember.h> can be included directly."
#endif

#include <ember/arena.h>
#include <ember/common.h>

typedef enum em_type {
    EM_T_NULL = 0, /* prints as null */
    EM_T_BOOL,     /* true / false */
    EM_T_INT,      /* 64-bit signed integer: 42 */
    EM_T_DOUBLE,   /* IEEE double, printed as Java's Double.toString: 1.0, 0.5, 1.0E10, NaN */
    EM_T_STR,      /* bytes + length, any bytes (not NUL-terminated); printed raw */
    EM_T_TUPLE,    /* 2 or more fields: (a,b), (a,b,c) */
    EM_T_LIST,     /* 0 or more items, printed by kind: List(1, 2), CompactBuffer(1, 2) */
    EM_T_SOME,     /* an option holding a value: Some(3) */
    EM_T_NONE,     /* the empty option: None */
} em_type;

/* How a list prints; the kind takes no part in equality, order or hashing. */
typedef enum em_list_kind {
    EM_LIST = 0,   /* List(1, 2): what flatMap functions and user code build */
    EM_BUFFER = 1, /* CompactBuffer(1, 2): groupByKey and cogroup values */
    EM_ARRAY = 2,  /* Array(1, 2): glom() partitions */
} em_list_kind;

typedef struct em_value {
    uint8_t type;  /* em_type */
    uint8_t kind;  /* em_list_kind for lists, 0 otherwise */
    uint16_t pad_; /* always 0 */
    uint32_t len;  /* string bytes, tuple arity, list length; 0 otherwise */
    union {
        int64_t i;                    /* EM_T_INT, EM_T_BOOL (0 or 1) */
        double d;                     /* EM_T_DOUBLE */
        const char *s;                /* EM_T_STR */
        const struct em_value *items; /* EM_T_TUPLE, EM_T_LIST, EM_T_SOME (one item) */
    } as;
} em_value;

_Static_assert(sizeof(em_value) == 16, "em_value is 16 bytes");

/* ---- Constructors that need no memory ---- */

static inline em_value em_null(void) { return (em_value){.type = EM_T_NULL}; }
static inline em_value em_none(void) { return (em_value){.type = EM_T_NONE}; }
static inline em_value em_bool(bool b) { return (em_value){.type = EM_T_BOOL, .as.i = b ? 1 : 0}; }
static inline em_value em_int(int64_t i) { return (em_value){.type = EM_T_INT, .as.i = i}; }
static inline em_value em_double(double d) { return (em_value){.type = EM_T_DOUBLE, .as.d = d}; }
/* A string over n bytes that the caller keeps alive (a literal, an input buffer): no copy. */
static inline em_value em_strn(const char *bytes, size_t n)
{
    return (em_value){.type = EM_T_STR, .len = (uint32_t)n, .as.s = bytes};
}
/* A string over a NUL-terminated C string that the caller keeps alive: no copy. */
EM_API em_value em_str(const char *cstr);

/* ---- Constructors that allocate. The plain form allocates in em_scratch(), the _in form in
 *      the arena given. They never fail (allocation failure aborts). ---- */

/* The pair (k, v): a tuple of two. */
EM_API em_value em_pair(em_value k, em_value v);
EM_API em_value em_pair_in(em_arena *arena, em_value k, em_value v);
/* A tuple of n >= 2 fields copied (shallowly) from fields. */
EM_API em_value em_tuple_in(em_arena *arena, const em_value *fields, size_t n);
/* Some(x). */
EM_API em_value em_some(em_value x);
EM_API em_value em_some_in(em_arena *arena, em_value x);
/* A list of n items copied (shallowly) from items, printed according to kind. */
EM_API em_value em_list(const em_value *items, size_t n, em_list_kind kind);
EM_API em_value em_list_in(em_arena *arena, const em_value *items, size_t n, em_list_kind kind);
/* A string holding a copy of n bytes. */
EM_API em_value em_str_dup(const char *bytes, size_t n);
EM_API em_value em_str_dup_in(em_arena *arena, const char *bytes, size_t n);
/* A string formatted printf-style, in the scratch arena. */
EM_API em_value em_str_printf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* ---- Accessors. They do not check the type: ask em_is_*() first where it is not known. ---- */

static inline em_type em_type_of(em_value v) { return (em_type)v.type; }
static inline bool em_is_null(em_value v) { return v.type == EM_T_NULL; }
static inline bool em_is_str(em_value v) { return v.type == EM_T_STR; }
static inline bool em_is_int(em_value v) { return v.type == EM_T_INT; }
static inline bool em_is_pair(em_value v) { return v.type == EM_T_TUPLE && v.len == 2; }
static inline int64_t em_as_int(em_value v) { return v.as.i; }
static inline double em_as_double(em_value v) { return v.as.d; }
static inline bool em_as_bool(em_value v) { return v.as.i != 0; }
/* A string's bytes: not NUL-terminated (print with "%.*s", (int)em_str_len(v), em_str_ptr(v)). */
static inline const char *em_str_ptr(em_value v) { return v.as.s; }
static inline size_t em_str_len(em_value v) { return v.len; }
/* Field i of a tuple; for a pair, em_key() is field 0 and em_val() field 1. */
static inline em_value em_field(em_value v, size_t i) { return v.as.items[i]; }
static inline em_value em_key(em_value kv) { return kv.as.items[0]; }
static inline em_value em_val(em_value kv) { return kv.as.items[1]; }
/* Length and item i of a list. */
static inline size_t em_list_len(em_value v) { return v.len; }
static inline em_value em_list_get(em_value v, size_t i) { return v.as.items[i]; }
/* The value inside Some(x). */
static inline em_value em_some_get(em_value v) { return v.as.items[0]; }
/* A numeric value as a double: ints converted, doubles as they are, anything else 0. */
EM_API double em_as_number(em_value v);

/* ---- Semantics ---- */

/* A 64-bit hash, the same on every run and machine; equal values hash equally. */
EM_API uint64_t em_value_hash(em_value v);
/* Deep equality. Values of different types are never equal (1 and 1.0 differ); NaN equals NaN. */
EM_API bool em_value_equal(em_value a, em_value b);
/* A total order: first by type (null < bool < int < double < string < tuple < list < None <
 * Some), then by value (strings bytewise, tuples and lists field by field, shorter first). */
EM_API int em_value_compare(em_value a, em_value b);
/* Copies v with all its payload into arena; scalars are returned as they are. */
EM_API em_value em_value_copy(em_value v, em_arena *arena);
/* Bytes of payload em_value_copy() would allocate for v (0 for scalars). */
EM_API size_t em_value_payload_size(em_value v);

/* ---- Text, as Spark's Scala toString prints records ---- */

/* Appends v to out as Spark prints it: (apple,4), (a,(1,x)), Some(3), None, CompactBuffer(1, 2),
 * List(a, b), 1.5, 1.0E10, true, null. Strings print raw. */
EM_API void em_value_format(em_value v, GString *out);
/* v as a newly allocated string; the caller frees it with g_free(). */
EM_API char *em_value_to_string(em_value v);
/* Parses the text format back: integers, doubles (1.0, 1e3, 1.0E10, NaN, Infinity), true, false,
 * null, None, Some(x), (a,b,...), List(...), CompactBuffer(...), Array(...), "quoted strings"
 * with \" \\ \n \t escapes, and bare strings (anything else up to , or ) at that level,
 * surrounding blanks trimmed). Payload goes into arena. On error returns false and sets err,
 * naming the byte offset and what was expected there. */
EM_API bool em_value_parse(const char *text, em_arena *arena, em_value *out, GError **err);
/* Parses text holding several values separated by commas at the top level, like "a, (b,1), 3".
 * Fills a newly g_malloc'd array the caller frees with g_free(); payload goes into arena.
 * Empty or blank text gives 0 values. On error returns false, sets err (with the offset). */
EM_API bool em_values_parse(const char *text, em_arena *arena, em_value **out, size_t *n,
                            GError **err);

/* ---- Binary encoding (shuffles, checkpoints, Kafka) ---- */

#define EM_CODEC_VERSION 1

/* Appends the encoding of one value to out (no header): a type byte, then varints or bytes. */
EM_API void em_value_encode(em_value v, GByteArray *out);
/* Decodes one value from buf[0..len); payload goes into arena; *used gets the bytes read.
 * On truncated or malformed input returns false and sets err naming the offset. */
EM_API bool em_value_decode(const uint8_t *buf, size_t len, size_t *used, em_arena *arena,
                            em_value *out, GError **err);
/* Appends a versioned block: magic "EMV", the version byte, a varint count, then the values. */
EM_API void em_values_encode(const em_value *values, size_t n, GByteArray *out);
/* Decodes a block written by em_values_encode() into a newly g_malloc'd array (caller
 * g_free()s it); payload into arena. A wrong magic, an unknown version or truncated bytes
 * return false with err set (EM_ERROR_CORRUPT). */
EM_API bool em_values_decode(const uint8_t *buf, size_t len, em_arena *arena, em_value **out,
                             size_t *n, GError **err);

#endif
