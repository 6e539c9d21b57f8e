/* ember-shell's lambda evaluator, shared by the compiler (shell-lambda.c) and the evaluator
 * functions (shell-eval.c): the frame a call runs in, the expression node, and the methods of
 * records. Private to the shell. */
#ifndef EMBER_SHELL_EVAL_H
#define EMBER_SHELL_EVAL_H

#include "shell.h"

#define MAX_SLOTS 64

/* One call of a compiled lambda: its slots (parameters, locals) on the caller's stack. */
typedef struct sh_frame {
    em_value *slots;
    em_state *state; /* mapWithState's State, or NULL */
    bool in_task;    /* failures go to em_fail() (a task) or to error (the driver) */
    bool failed;
    char *error; /* outside tasks: the first failure, with its place */
} sh_frame;

typedef struct sh_expr sh_expr;
/* Evaluates e in f; on a failure, sets f->failed (see sh_fail_record) and returns null. */
typedef em_value (*sh_eval_fn)(const sh_expr *e, sh_frame *f);

/* A node of a compiled lambda: its evaluator and what the evaluator reads. */
struct sh_expr {
    sh_eval_fn eval;
    const sh_node *node; /* for the place in errors */
    int slot;            /* a parameter or local; a nested function's first parameter */
    int n;               /* a nested function's parameters; an index; an operator; a method */
    em_value k;          /* a constant */
    sh_expr *a, *b, *c;
    sh_expr **args;
    int nargs;
    GRegex *re; /* split's separator, when it is a regex */
    const char *name;
};

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

typedef enum method {
    M_SPLIT,
    M_LENGTH,
    M_UPPER,
    M_LOWER,
    M_TRIM,
    M_TO_INT,
    M_TO_DOUBLE,
    M_TO_STRING,
    M_IS_EMPTY,
    M_NON_EMPTY,
    M_CONTAINS,
    M_STARTS,
    M_ENDS,
    M_SUBSTRING,
    M_REPLACE,
    M_INDEX_OF,
    M_GET_OR_ELSE,
    M_GET,
    M_IS_DEFINED,
    M_SUM,
    M_HEAD,
    M_LAST,
    M_MAX,
    M_MIN,
    M_MK_STRING,
    M_MAP,
    M_FILTER,
    M_FOLD_LEFT,
    M_REDUCE,
    M_FOREACH,
    M_COUNT,
    M_EXISTS,
    M_FORALL,
    M_SORTED,
    M_REVERSE,
    M_TAKE,
    M_DROP,
    M_TO_SEQ,
    M_APPLY,
    M_FIELD,
    M_SWAP,
    M_ABS,
    M_DISTINCT,
    M_FLAT_MAP,
    M_SIZE,
    M_STATE_GET_OPTION,
    M_STATE_GET,
    M_STATE_EXISTS,
    M_STATE_UPDATE,
    M_STATE_REMOVE,
    M_STATE_TIMING_OUT,
} method;

typedef struct method_info {
    const char *name;
    method m;
    int min_args, max_args; /* -1: no argument list */
    int fn_arity;           /* > 0: the (last) argument is a function of this many parameters */
} method_info;

/* The methods of records, and of mapWithState's State, by name. */
extern const method_info sh_methods[];
extern const size_t sh_n_methods;
extern const method_info sh_state_methods[];
extern const size_t sh_n_state_methods;

/* Fails the record (em_fail in a task, f->error at the driver) naming e's place; once per
 * frame. Returns null. */
em_value sh_fail_record(const sh_expr *e, sh_frame *f, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Scala's name of v's type ("Int", "String", ...). */
const char *sh_type_name(em_value v);
/* v for a message, cut short, strings quoted; g_free it. */
char *sh_show(em_value v);
/* v as a Boolean; anything else fails the record (at e). */
bool sh_truth(const sh_expr *e, sh_frame *f, em_value v);
/* A List over items[0..n) (not copied). */
em_value sh_make_list(em_value *items, size_t n);

/* The evaluators, one per node kind (shell-eval.c says what each reads). */
em_value sh_ev_const(const sh_expr *e, sh_frame *f);
em_value sh_ev_slot(const sh_expr *e, sh_frame *f);
em_value sh_ev_add(const sh_expr *e, sh_frame *f);
em_value sh_ev_add_slots(const sh_expr *e, sh_frame *f);
em_value sh_ev_arith(const sh_expr *e, sh_frame *f);
em_value sh_ev_compare(const sh_expr *e, sh_frame *f);
em_value sh_ev_and(const sh_expr *e, sh_frame *f);
em_value sh_ev_or(const sh_expr *e, sh_frame *f);
em_value sh_ev_not(const sh_expr *e, sh_frame *f);
em_value sh_ev_neg(const sh_expr *e, sh_frame *f);
em_value sh_ev_if(const sh_expr *e, sh_frame *f);
em_value sh_ev_pair(const sh_expr *e, sh_frame *f);
em_value sh_ev_pair_slot_const(const sh_expr *e, sh_frame *f);
em_value sh_ev_tuple(const sh_expr *e, sh_frame *f);
em_value sh_ev_list(const sh_expr *e, sh_frame *f);
em_value sh_ev_some(const sh_expr *e, sh_frame *f);
em_value sh_ev_block(const sh_expr *e, sh_frame *f);
em_value sh_ev_set_slot(const sh_expr *e, sh_frame *f);
em_value sh_ev_interp(const sh_expr *e, sh_frame *f);
em_value sh_ev_println(const sh_expr *e, sh_frame *f);
em_value sh_ev_call_fn(const sh_expr *e, sh_frame *f);
em_value sh_ev_untuple(const sh_expr *e, sh_frame *f);
em_value sh_ev_split_space(const sh_expr *e, sh_frame *f);
em_value sh_ev_method(const sh_expr *e, sh_frame *f);
em_value sh_ev_higher(const sh_expr *e, sh_frame *f);
em_value sh_ev_field(const sh_expr *e, sh_frame *f);
em_value sh_ev_state(const sh_expr *e, sh_frame *f);
em_value sh_ev_math(const sh_expr *e, sh_frame *f);

#endif
