/* ember-shell's private header: the pieces of the Scala-subset interpreter shared by its files.
 *
 *   shell-lexer.c   text -> tokens (with byte offsets, for carets under errors)
 *   shell-parser.c  tokens -> syntax tree (sh_node), placeholders (`_ + _`) made lambdas
 *   shell-lambda.c  a lambda's tree compiled to an expression tree over em_value, evaluated per
 *                   record by the em_map_fn / em_reduce_fn ... adapters Ember calls
 *   shell-interp.c  the driver side: bindings, objects (StreamingContext, DStream, RDD, ...) and
 *                   their methods, statements
 *   shell-api.c     every call into Ember's public API that builds or runs a pipeline
 *   shell-main.c    the REPL: readline, history, completion, :commands, scripts
 * Nothing here is installed; ember-shell and the lambda benchmark link it. */
#ifndef EMBER_SHELL_H
#define EMBER_SHELL_H

#include <ember.h>

/* ---- Sources and errors ---- */

/* One piece of input (a statement typed, a script file): kept for the whole session, because
 * errors quote it and lambda names are cut from it. */
typedef struct sh_source {
    char *name; /* "<console>", a file name */
    char *text; /* NUL-terminated */
    size_t len;
    int first_line; /* line number of text's first line in name */
} sh_source;

/* A place in a source. */
typedef struct sh_pos {
    const sh_source *src;
    uint32_t off, end; /* [off, end) bytes */
} sh_pos;

#define SH_ERROR (sh_error_quark())
GQuark sh_error_quark(void);
enum { SH_ERROR_SYNTAX, SH_ERROR_INCOMPLETE, SH_ERROR_EVAL };

/* Sets err to "NAME:LINE:COL: error: MESSAGE" followed by the source line and a caret under
 * the column. pos may be NULL (no place). */
void sh_error_at(GError **err, int code, const sh_pos *pos, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* "NAME:LINE:COL" for pos, newly allocated. */
char *sh_pos_where(const sh_pos *pos);
/* The source text of pos, newly allocated. */
char *sh_pos_text(const sh_pos *pos);

/* ---- Tokens ---- */

typedef enum sh_tok {
    T_EOF,
    T_NEWLINE,
    T_IDENT,
    T_INT,
    T_DOUBLE,
    T_STRING,
    T_INTERP, /* s"..." */
    T_OP,     /* operator characters: + - * / % < > = ! & | ^ ~ : and their runs */
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_COMMA,
    T_DOT,
    T_SEMI,
    T_COLON,
    T_ARROW,
    T_EQUALS,
    T_UNDERSCORE,
    T_KEYWORD,
} sh_tok;

typedef struct sh_token {
    sh_tok kind;
    uint32_t off, end;
    char *text; /* identifier, operator, keyword, or the string's decoded bytes */
    size_t len; /* of text */
    int64_t i;
    double d;
} sh_token;

/* Tokens of src, ending with T_EOF; in a GArray of sh_token the caller frees with
 * sh_tokens_free(). On a lexical error returns NULL with err set (SH_ERROR_INCOMPLETE for a
 * string or comment left open). */
GArray *sh_lex(const sh_source *src, GError **err);
void sh_tokens_free(GArray *toks);

/* ---- Syntax ---- */

typedef enum sh_kind {
    N_INT,
    N_DOUBLE,
    N_STRING,
    N_BOOL,
    N_NULL,
    N_UNIT,
    N_IDENT,       /* name */
    N_PLACEHOLDER, /* `_`; i: its parameter index once bound */
    N_SELECT,      /* kids[0].name, no argument list */
    N_CALL,        /* kids[0](kids[1..]) */
    N_BINOP,       /* kids[0] name kids[1] */
    N_UNOP,        /* name kids[0] */
    N_TUPLE,       /* (kids...) */
    N_LAMBDA,      /* params => kids[0] */
    N_BLOCK,       /* { kids... }, the last one's value */
    N_VAL,         /* val name = kids[0]; i: 1 for var */
    N_ASSIGN,      /* name = kids[0] */
    N_IF,          /* if (kids[0]) kids[1] else kids[2] (kids[2] may be NULL) */
    N_NEW,         /* new name(kids...) */
    N_DEF,         /* def name(params) = kids[0] */
    N_IMPORT,      /* import ...: accepted and ignored */
    N_ETA,         /* kids[0] _ */
    N_INTERP,      /* s"...": kids alternate N_STRING parts and expressions */
} sh_kind;

typedef struct sh_param {
    char *name;
    char *type; /* as written ("Option[Int]"), or NULL */
} sh_param;

typedef struct sh_node {
    sh_kind kind;
    sh_pos pos;
    char *name;
    struct sh_node **kids;
    int n_kids;
    int64_t i;
    double d;
    char *s; /* N_STRING bytes */
    size_t slen;
    sh_param *params; /* N_LAMBDA, N_DEF */
    int n_params;
} sh_node;

/* The statements of src: a parse fills stmts with sh_node pointers allocated in arena. On a
 * syntax error returns false with err set; SH_ERROR_INCOMPLETE when the input ended in the
 * middle of a statement (the REPL then reads another line). */
bool sh_parse(const sh_source *src, em_arena *arena, GPtrArray *stmts, GError **err);

/* ---- Driver-side objects ---- */

typedef struct sh_obj sh_obj;
typedef struct sh_env sh_env;
typedef struct sh_shell sh_shell;
typedef struct sh_ssc sh_ssc;

typedef enum sh_obj_kind {
    O_UNIT,
    O_VALUE,
    O_DURATION,
    O_TIME,
    O_CONF,
    O_SC,
    O_SSC,
    O_DSTREAM,
    O_RDD,
    O_QUEUE,
    O_LAMBDA,
    O_STATESPEC,
    O_BUILTIN,
    O_STORAGE,
} sh_obj_kind;

/* A node of the DStream graph as the shell shows it (:graph). */
typedef struct sh_gnode {
    int id;
    char *binding;  /* the val it was bound to first, or NULL */
    char *what;     /* "flatMap(_.split(\" \"))" */
    int parents[8]; /* the first 8 parents */
    int n_parents;
    bool output;
} sh_gnode;

struct sh_ssc {
    em_ssc *ssc;
    int64_t interval;
    bool manual;
    GPtrArray *graph; /* sh_gnode* */
    GMutex lock;      /* graph */
};

typedef struct sh_statespec {
    sh_obj *fn;      /* O_LAMBDA */
    sh_obj *initial; /* O_RDD or NULL */
    int num_partitions;
    int64_t timeout;
} sh_statespec;

struct sh_obj {
    sh_obj_kind kind;
    int refs;
    union {
        struct {
            em_value v;
            em_arena *arena;
            em_values *owner;
        } val;      /* O_VALUE */
        int64_t ms; /* O_DURATION, O_TIME */
        struct {
            char *master, *app;
        } conf;         /* O_CONF */
        em_context *sc; /* O_SC */
        sh_ssc *ssc;    /* O_SSC */
        struct {
            em_dstream *ds;
            sh_ssc *ssc;
            int gid;
        } ds;                /* O_DSTREAM */
        em_rdd *rdd;         /* O_RDD */
        em_rdd_queue *queue; /* O_QUEUE */
        struct {
            const sh_node *node;
            sh_env *env;
        } lambda;          /* O_LAMBDA, O_BUILTIN (name) */
        sh_statespec spec; /* O_STATESPEC */
    } u;
    const char *builtin; /* O_BUILTIN: "println" */
};

sh_obj *sh_obj_new(sh_obj_kind kind);
sh_obj *sh_obj_ref(sh_obj *o);
void sh_obj_unref(sh_obj *o);
/* An O_VALUE holding a deep copy of v in an arena of its own. */
sh_obj *sh_obj_value(em_value v);
/* "an" before Int, Array, Option, RDD; "a" before the others. */
const char *sh_article(const char *type_name);
/* What the kind is called in messages: "DStream", "RDD", "Int", ... */
const char *sh_obj_type_name(const sh_obj *o);

/* Bindings: a global table (shared by the REPL and the scheduler thread, locked) and local
 * frames for driver lambdas (foreachRDD, transform) and blocks. */
sh_env *sh_env_new(sh_env *parent);
sh_env *sh_env_ref(sh_env *env);
void sh_env_unref(sh_env *env);
/* A new reference to the object bound to name here or in a parent, or NULL. */
sh_obj *sh_env_lookup(sh_env *env, const char *name);
/* Binds name to o (takes the reference). */
void sh_env_bind(sh_env *env, const char *name, sh_obj *o);
/* The names bound in env and its parents (for completion); a GPtrArray of g_strdup'd names. */
GPtrArray *sh_env_names(sh_env *env);

/* ---- Lambdas over em_value (shell-lambda.c) ---- */

typedef struct sh_lambda sh_lambda;

/* What a function is for: decides how parameters are bound and results read. */
typedef enum sh_role {
    R_MAP,     /* 1 parameter -> value */
    R_FILTER,  /* 1 parameter -> Boolean */
    R_REDUCE,  /* 2 parameters -> value */
    R_FOREACH, /* 1 parameter, result ignored */
    R_UPDATE,  /* (Seq[V], Option[S]) -> Option[S] */
    R_MAPPING, /* (K, Option[V], State[S]) -> M, or (Time, K, Option[V], State[S]) -> Option[M] */
    R_CONST,   /* no parameters: a value at the driver */
} sh_role;

/* Compiles fn (an N_LAMBDA, or a name bound to one) for role; identifiers not bound by the
 * lambda are looked up in env and must hold values (captured as constants). Returns NULL with
 * err set (pointing into the lambda's source) when it uses something outside the subset or
 * has the wrong number of parameters for role (what names the operation in the message). */
sh_lambda *sh_lambda_compile(const sh_node *fn, sh_env *env, sh_role role, const char *what,
                             GError **err);
void sh_lambda_free(void *lam);
/* The lambda's source text, as Ember shows it in logs and the shell in :graph. */
const char *sh_lambda_text(const sh_lambda *lam);
/* How the value evaluator hands the driver a sub-expression it cannot compile itself
 * (`rdd.count()` inside println(...) at the driver): its result must be an O_VALUE. */
typedef sh_obj *(*sh_driver_eval)(const sh_node *expr, sh_env *env, void *ctx, GError **err);
/* Evaluates a parameterless expression at the driver: a deep copy in a new O_VALUE, or NULL
 * with err set. */
sh_obj *sh_eval_value(const sh_node *expr, sh_env *env, sh_driver_eval driver, void *ctx,
                      GError **err);
/* Evaluates recv.method(args) (node is the N_CALL or N_SELECT) on a value already computed. */
sh_obj *sh_eval_value_method(em_value recv, const sh_node *node, sh_env *env,
                             sh_driver_eval driver, void *ctx, GError **err);
/* Whether name is a method the value evaluator knows (completion). */
const char *const *sh_value_method_names(void);
/* The methods of mapWithState's State parameter (:help State). */
const char *const *sh_state_method_names(void);

/* The adapters Ember calls; ud is the sh_lambda. */
em_value sh_fn_map(em_value v, void *ud);
bool sh_fn_filter(em_value v, void *ud);
em_value sh_fn_reduce(em_value a, em_value b, void *ud);
void sh_fn_foreach(em_value v, void *ud);
em_value sh_fn_update(em_value key, const em_value *values, size_t n, em_value state, em_time time,
                      void *ud);
/* mapPartitions: the partition is given to the lambda as a Seq; it returns one. */
void sh_fn_partition(int index, em_iter *in, em_emitter *out, void *ud);
/* foreachPartition: the partition is given to the lambda as a Seq. */
void sh_fn_foreach_partition(int index, em_iter *in, void *ud);
em_value sh_fn_mapping(em_time time, em_value key, em_value value, em_state *state, void *ud);

/* ---- The interpreter (shell-interp.c) ---- */

typedef struct sh_opts {
    bool manual_clock; /* every StreamingContext gets a manual clock (:step) */
    bool echo;         /* print what each statement binds (interactive sessions) */
    const char *master;
} sh_opts;

sh_shell *sh_shell_new(const sh_opts *opts);
void sh_shell_free(sh_shell *sh);
/* Runs the statements of one complete piece of input. Errors (with carets) go to err; output
 * to stdout. */
bool sh_shell_run(sh_shell *sh, const char *name, int first_line, const char *text, GError **err);
/* Parses text only: false with SH_ERROR_INCOMPLETE when more lines are needed. */
bool sh_shell_complete(sh_shell *sh, const char *text, GError **err);
/* :step N, :graph, :manual: */
bool sh_shell_step(sh_shell *sh, int64_t batches, GError **err);
char *sh_shell_graph(sh_shell *sh);
void sh_shell_set_manual(sh_shell *sh, bool manual);
bool sh_shell_manual(sh_shell *sh);
/* Names for tab completion after "recv." (recv's methods) or at the start of a word
 * (bindings, keywords, functions); a NULL-terminated g_strfreev'able vector. */
char **sh_shell_completions(sh_shell *sh, const char *line, int word_start, const char *word);
/* Set by the REPL's SIGINT handler: ends awaitTermination early. */
extern volatile int sh_interrupted;

/* ---- What shell-api.c needs from the interpreter ---- */

/* One method call being evaluated: recv.name(args) or recv.name. */
typedef struct sh_call {
    sh_shell *sh;
    sh_env *env;
    const sh_node *node; /* the N_CALL, or the N_SELECT when there is no argument list */
    const sh_node *sel;  /* the N_SELECT */
    const char *name;
    const sh_node *const *args;
    int nargs; /* -1: no argument list */
    GError **err;
} sh_call;

/* Evaluates n at the driver: a new reference, or NULL with err set. */
sh_obj *sh_eval(sh_shell *sh, const sh_node *n, sh_env *env, GError **err);
/* Argument i of c evaluated as the given kind; false (err set, caret under the argument) when
 * it is not one. */
bool sh_arg_int(sh_call *c, int i, int64_t *out);
bool sh_arg_bool(sh_call *c, int i, bool *out);
bool sh_arg_duration(sh_call *c, int i, int64_t *out);
char *sh_arg_string(sh_call *c, int i);                  /* g_free it; NULL on error */
sh_obj *sh_arg_obj(sh_call *c, int i, sh_obj_kind kind); /* a new reference or NULL */
/* Argument i compiled as a function over records for role. */
sh_lambda *sh_arg_fn(sh_call *c, int i, sh_role role);
/* Fails the call: err set with a caret under argument i (-1: the method's name). */
sh_obj *sh_call_fail(sh_call *c, int i, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Checks the argument count; false with err set ("print takes 0 or 1 arguments"). */
bool sh_call_arity(sh_call *c, int min, int max);
/* The text of the call from the method name on ("map(x => (x, 1))"), newly allocated. */
char *sh_call_text(sh_call *c);

/* A driver-side function (foreachRDD's, transform's): the lambda node, the env it closes over. */
typedef struct sh_closure {
    sh_shell *sh;
    sh_obj *fn; /* O_LAMBDA */
    int nparams;
} sh_closure;
/* Argument i as a driver-side function of 1 or 2 parameters (min..max); NULL on error. */
sh_closure *sh_arg_closure(sh_call *c, int i, int min_params, int max_params);
void sh_closure_free(void *cl);
/* Calls it with args (borrowed): the result (a new reference) or NULL with err set. */
sh_obj *sh_closure_call(sh_closure *cl, sh_obj *const *args, int nargs, GError **err);

/* The StreamingContext being shown by :graph and stepped by :step (the last one made). */
void sh_shell_set_ssc(sh_shell *sh, sh_ssc *s);
em_context *sh_shell_sc(sh_shell *sh);
bool sh_shell_manual_clock(sh_shell *sh);
/* Remembers the queue so that it is freed after the contexts using it. */
void sh_shell_keep_queue(sh_shell *sh, em_rdd_queue *q);

/* ---- Ember calls (shell-api.c) ---- */

/* A new StreamingContext on sc (or master when sc is NULL); NULL with err set. */
sh_ssc *sh_api_ssc_new(em_context *sc, const char *master, const char *app, int64_t interval,
                       bool manual, GError **err);
void sh_api_ssc_free(sh_ssc *s);
/* Advances a manual clock one batch and waits for that batch; false with err set when the
 * context is not started or not on a manual clock. */
bool sh_api_step(sh_ssc *s, GError **err);
/* The graph as :graph prints it, newly allocated. */
char *sh_api_graph(sh_ssc *s);
/* Ember reports a refused call with a critical message: while a capture is on (on the
 * calling thread), such messages are kept for the error under the caret instead of printed.
 * Install the writer once, at start; capture_end returns what nobody took (g_free it). */
void sh_api_install_log_writer(void);
void sh_api_capture_begin(void);
char *sh_api_capture_end(void);
/* Names a stream in the graph after the val it is first bound to. */
void sh_api_name_stream(sh_obj *o, const char *name);
/* Methods of driver objects: the result (a new reference), or NULL with c->err set. */
sh_obj *sh_api_method(sh_call *c, sh_obj *recv);
/* `new StreamingContext(...)`, `new SparkConf()`, `new mutable.Queue[...]()`. */
sh_obj *sh_api_new(sh_shell *sh, const sh_node *n, sh_env *env, GError **err);
/* `StateSpec.function(f)`, `StorageLevel.X`: a static member; NULL with err set. */
sh_obj *sh_api_static(sh_call *c, const char *object);
/* Method names of each object kind, for completion (NULL-terminated, static). */
const char *const *sh_api_method_names(sh_obj_kind kind);
/* One line saying what o is, for echoes: "DStream[3] = map(...)". Newly allocated. */
char *sh_api_describe(const sh_obj *o);

#endif
