/* vmd-policy-private.h: the compiled form of a rule, shared by the parser, the evaluator,
 * the index and the printer inside policy/. Not installed, not for other folders. */
#pragma once

#include "vmdesk-policy.h"

G_BEGIN_DECLS

/* USBGuard's set operators; EQUALS is the default when none is written. */
typedef enum {
  VMD_SET_EQUALS,
  VMD_SET_ALL_OF,
  VMD_SET_ONE_OF,
  VMD_SET_NONE_OF,
  VMD_SET_EQUALS_ORDERED,
  VMD_SET_MATCH_ALL,
} VmdSetOperator;

typedef enum {
  VMD_ATTR_ID,
  VMD_ATTR_NAME,
  VMD_ATTR_SERIAL,
  VMD_ATTR_HASH,
  VMD_ATTR_PARENT_HASH,
  VMD_ATTR_VIA_PORT,
  VMD_ATTR_WITH_INTERFACE,
  VMD_ATTR_WITH_CONNECT_TYPE,
  VMD_ATTR_LABEL,          /* metadata: never matched */
  VMD_N_ATTRS,
} VmdAttrKind;

/* An id (vid << 16 | pid) or an interface (class << 16 | sub << 8 | proto) with the bits
 * a '*' leaves out cleared from `mask`; `value` is stored already masked. */
typedef struct {
  guint32 value;
  guint32 mask;
} VmdPattern;

typedef struct {
  VmdAttrKind    kind;
  VmdSetOperator op;
  guint          n_values;
  VmdPattern    *patterns;   /* id, with-interface */
  char         **strings;    /* the string attributes; NULL-terminated */
} VmdAttribute;

typedef enum {
  VMD_COND_TRUE,
  VMD_COND_FALSE,
  VMD_COND_VM_RUNNING,
  VMD_COND_ON_SCREEN,
  VMD_COND_AUTO_ASSIGN,
} VmdCondKind;

typedef struct {
  VmdCondKind kind;
  gboolean    negated;
  char       *vm;            /* NULL: @focused */
} VmdCondition;

typedef struct {
  char *name;                /* NULL: @focused */
} VmdVmRef;

typedef struct {
  guint            index;         /* position in the policy: first match wins */
  char            *file;          /* NULL: built-in default */
  guint            line;
  VmdPolicyTarget  target;
  VmdVmRef        *vms;           /* attach: exactly one; ask: any number */
  guint            n_vms;
  VmdAttribute    *attrs;         /* in the order written, label included */
  guint            n_attrs;
  gboolean         has_condition;
  VmdSetOperator   cond_op;
  VmdCondition    *conds;
  guint            n_conds;
  gboolean         sticky;
  gboolean         follow;
  char            *label;         /* the label's values joined, valid UTF-8; or NULL */
  char            *text;          /* normalised rule text */
  char            *matched;       /* what the rule asks of a device */
  char            *reason;        /* "rule FILE:LINE matched: ...; sticky": a decision's start */
  const char      *comment;       /* built-in defaults: why they exist */
} VmdRule;

/* The words of the language, by enum value: for the parser and the printer alike. */
extern const char *const vmd_attr_names[VMD_N_ATTRS];
extern const char *const vmd_set_operator_names[VMD_SET_MATCH_ALL + 1];
extern const char *const vmd_condition_names[VMD_COND_AUTO_ASSIGN + 1];

/* The first `digits` characters of `text` as hex (`text` may go on). */
gboolean vmd_parse_hex_prefix (const char *text, guint digits, guint32 *out);
/* `text` is exactly `digits` hex digits. */
gboolean vmd_parse_hex_exact (const char *text, guint digits, guint32 *out);

void     vmd_rule_free (VmdRule *rule);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdRule, vmd_rule_free)

/* Fills rule->text, matched, reason and label from the parsed fields (file and line too). */
void     vmd_rule_finish (VmdRule *rule);
gboolean vmd_rule_matches_device (const VmdRule *rule, const VmdUsbDevice *device);
gboolean vmd_rule_meets_conditions (const VmdRule *rule, const VmdPolicyContext *context);

/* Parses one text. Rules are appended to `rules` with indices from rules->len; every
 * error becomes one "FILE:LINE:COL: message" line appended to `errors`. */
void     vmd_policy_parse_text (const char *text, gsize length, const char *filename,
                                GPtrArray *rules, GPtrArray *errors);

/* May `name` be written bare: does it lex back as one word that is no keyword? */
gboolean vmd_policy_word_is_plain_vm_name (const char *name);

/* USBGuard's quoting: '"' and '\' escaped; bytes that are not printable, valid UTF-8 as \xHH. */
void     vmd_policy_append_quoted (GString *out, const char *value);
/* `text` made safe for a one-line message: invalid UTF-8 and control characters as \xHH. */
char    *vmd_policy_escape_for_message (const char *text);

/* The compiled, indexed rule list. */
typedef struct _VmdRuleIndex VmdRuleIndex;
VmdRuleIndex    *vmd_rule_index_new (GPtrArray *rules);
void             vmd_rule_index_free (VmdRuleIndex *index);
/* The first rule (in rule order) that matches `device` and meets its conditions. */
const VmdRule   *vmd_rule_index_first_match (VmdRuleIndex *index, const VmdUsbDevice *device,
                                             const VmdPolicyContext *context);

/* Reads at most `max_size` bytes; more is an error. The result is NUL-terminated. */
char    *vmd_read_file_bounded (const char *path, gsize max_size, gsize *length, GError **error);

G_END_DECLS
