/* vmd-policy-parser.c: rule text to compiled rules. A lexer per line and a recursive-descent
 * parser for TARGET [ATTRIBUTES...] [if CONDITION] [OPTIONS...]. Every error names
 * FILE:LINE:COL of the token at fault; a line with an error yields no rule and parsing goes
 * on with the next line, so that `vmdeskctl policy check` reports every error at once. */
#include "vmd-policy-private.h"

#include "vmdesk-common.h"

#include <stdarg.h>
#include <string.h>

#define MAX_SHOWN   64    /* bytes of a token quoted in a message */
#define MAX_ERRORS  100   /* per text: enough to fix a file, bounded for a hostile one */

typedef enum {
  TOK_WORD,
  TOK_STRING,
  TOK_LBRACE,
  TOK_RBRACE,
  TOK_LPAREN,
  TOK_RPAREN,
  TOK_BANG,
  TOK_END,      /* end of line, or a comment */
} TokKind;

typedef struct {
  TokKind kind;
  gsize   offset;   /* in the line, in bytes */
  gsize   length;   /* as written */
  char   *text;     /* WORD: the word; STRING: the value, unescaped */
} Token;

typedef struct {
  const char *shown_file;
  const char *line;
  gsize       line_len;
  guint       line_no;
  GArray     *tokens;
  guint       pos;
  char       *error;
} Parser;

/* ---- keywords ---- */

static const char *const targets[] = {
  [VMD_POLICY_ATTACH] = "attach",
  [VMD_POLICY_ASK]    = "ask",
  [VMD_POLICY_HOST]   = "host",
  [VMD_POLICY_DENY]   = "deny",
};

/* The index of `word` in `names` (which is what the enums count), or -1. */
static int
word_index (const char *word, const char *const *names, guint n)
{
  for (guint i = 0; i < n; i++)
    if (strcmp (word, names[i]) == 0)
      return (int) i;
  return -1;
}

#define WORD_INDEX(word, names) word_index ((word), (names), G_N_ELEMENTS (names))

static gboolean
attr_kind_from_word (const char *word, VmdAttrKind *kind)
{
  int i = WORD_INDEX (word, vmd_attr_names);

  if (i >= 0)
    *kind = i;
  return i >= 0;
}

static gboolean
set_operator_from_word (const char *word, VmdSetOperator *op)
{
  int i = WORD_INDEX (word, vmd_set_operator_names);

  if (i >= 0)
    *op = i;
  return i >= 0;
}

/* Words that end the VM list of `ask`. */
static gboolean
is_reserved_word (const char *word)
{
  VmdAttrKind kind;

  return attr_kind_from_word (word, &kind) || strcmp (word, "if") == 0
      || strcmp (word, "sticky") == 0 || strcmp (word, "follow") == 0;
}

/* VVVV:PPPP, VVVV:* or *:* (USBGuard refuses *:PPPP). */
static gboolean
parse_id_pattern (const char *word, VmdPattern *out)
{
  guint32 vid, pid;
  gsize len = strlen (word);

  if (strcmp (word, "*:*") == 0)
    {
      *out = (VmdPattern) { 0, 0 };
      return TRUE;
    }
  if ((len != 6 && len != 9) || word[4] != ':' || !vmd_parse_hex_prefix (word, 4, &vid))
    return FALSE;
  if (len == 6 && word[5] == '*')
    {
      *out = (VmdPattern) { vid << 16, 0xffff0000 };
      return TRUE;
    }
  if (len == 9 && vmd_parse_hex_prefix (word + 5, 4, &pid))
    {
      *out = (VmdPattern) { vid << 16 | pid, 0xffffffff };
      return TRUE;
    }
  return FALSE;
}

/* CC:SS:PP, CC:SS:* or CC:*:* (USBGuard refuses a '*' subclass with a given protocol). */
static gboolean
parse_interface_pattern (const char *word, VmdPattern *out)
{
  guint32 cls, sub, proto;
  gsize len = strlen (word);

  if (len < 6 || !vmd_parse_hex_prefix (word, 2, &cls) || word[2] != ':')
    return FALSE;
  if (len == 6 && strcmp (word + 3, "*:*") == 0)
    {
      *out = (VmdPattern) { cls << 16, 0xff0000 };
      return TRUE;
    }
  if ((len != 7 && len != 8) || !vmd_parse_hex_prefix (word + 3, 2, &sub) || word[5] != ':')
    return FALSE;
  if (len == 7 && word[6] == '*')
    {
      *out = (VmdPattern) { cls << 16 | sub << 8, 0xffff00 };
      return TRUE;
    }
  if (len == 8 && vmd_parse_hex_prefix (word + 6, 2, &proto))
    {
      *out = (VmdPattern) { cls << 16 | sub << 8 | proto, 0xffffff };
      return TRUE;
    }
  return FALSE;
}

static gboolean
is_word_byte (guchar c)
{
  return c > 0x20 && c != 0x7f && c != '{' && c != '}' && c != '(' && c != ')' && c != '"';
}

gboolean
vmd_policy_word_is_plain_vm_name (const char *name)
{
  VmdPattern unused;

  if (name[0] == '\0' || name[0] == '@' || name[0] == '!' || name[0] == '#')
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!is_word_byte ((guchar) *p))
      return FALSE;
  return !is_reserved_word (name) && !parse_id_pattern (name, &unused);
}

/* ---- errors ---- */

/* 1-based, in characters; a byte that is not valid UTF-8 counts as one. */
static guint
column_of (const Parser *p, gsize offset)
{
  const char *s = p->line;
  const char *end = p->line + p->line_len;
  guint column = 1;

  for (gsize i = 0; i < offset; column++)
    {
      gunichar c = g_utf8_get_char_validated (s + i, end - (s + i));
      i += (c == (gunichar) -1 || c == (gunichar) -2) ? 1 : (gsize) g_utf8_skip[(guchar) s[i]];
    }
  return column;
}

G_GNUC_PRINTF (3, 4) static gboolean
fail_at (Parser *p, gsize offset, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  if (p->error)   /* the first error of a line is the one that makes sense */
    return FALSE;
  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  p->error = g_strdup_printf ("%s:%u:%u: %s", p->shown_file, p->line_no,
                              column_of (p, offset), message);
  return FALSE;
}

#define fail(p, tok, ...) fail_at ((p), (tok)->offset, __VA_ARGS__)

/* The token as written, safe for a message, cut to MAX_SHOWN bytes. */
static char *
shown (const Parser *p, const Token *t)
{
  g_autofree char *raw = g_strndup (p->line + t->offset, MIN (t->length, MAX_SHOWN));
  g_autofree char *escaped = vmd_policy_escape_for_message (raw);

  return t->length > MAX_SHOWN ? g_strconcat (escaped, "...", NULL) : g_steal_pointer (&escaped);
}

/* ---- lexer ---- */

static void
token_clear (gpointer data)
{
  g_free (((Token *) data)->text);
}

/* USBGuard's escapes: \" \\ \xHH; anything else after a backslash is an error. */
static gboolean
lex_string (Parser *p, gsize start, gsize *end, GString *value)
{
  const char *s = p->line;
  gsize n = p->line_len;
  gsize i = start + 1;

  while (i < n)
    {
      guchar c = s[i];
      guint32 byte;

      if (c == '"')
        {
          *end = i + 1;
          return TRUE;
        }
      if (c == '\r')
        return fail_at (p, i, "carriage return inside a string (write \\x0d)");
      if (c != '\\')
        {
          g_string_append_c (value, (char) c);
          i++;
          continue;
        }
      if (i + 1 >= n)
        break;
      c = s[i + 1];
      if (c == '"' || c == '\\')
        {
          g_string_append_c (value, (char) c);
          i += 2;
        }
      else if (c == 'x')
        {
          if (i + 3 >= n || !vmd_parse_hex_prefix (s + i + 2, 2, &byte))
            return fail_at (p, i, "bad escape: \\x needs two hex digits");
          if (byte == 0)
            return fail_at (p, i, "\\x00 is not allowed: device strings never contain a NUL byte");
          g_string_append_c (value, (char) byte);
          i += 4;
        }
      else if (g_ascii_isprint (c))
        return fail_at (p, i, "unknown escape '\\%c' (strings know \\\", \\\\ and \\xHH)", c);
      else
        return fail_at (p, i, "unknown escape '\\' followed by byte \\x%02x (strings know \\\", \\\\ and \\xHH)", c);
    }
  return fail_at (p, start, "unterminated string: no closing '\"'");
}

static gboolean
lex_line (Parser *p)
{
  const char *s = p->line;
  gsize n = p->line_len;
  gsize i = 0;

  for (;;)
    {
      Token t = { TOK_END, 0, 1, NULL };
      guchar c;

      while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
      t.offset = i;
      if (i == n || s[i] == '#')
        {
          t.length = 0;
          g_array_append_val (p->tokens, t);
          return TRUE;
        }
      c = s[i];
      switch (c)
        {
        case '{': t.kind = TOK_LBRACE; break;
        case '}': t.kind = TOK_RBRACE; break;
        case '(': t.kind = TOK_LPAREN; break;
        case ')': t.kind = TOK_RPAREN; break;
        case '!': t.kind = TOK_BANG; break;
        case '"':
          {
            g_autoptr(GString) value = g_string_new (NULL);
            gsize end = 0;

            if (!lex_string (p, i, &end, value))
              return FALSE;
            t.kind = TOK_STRING;
            t.length = end - i;
            t.text = g_string_free (g_steal_pointer (&value), FALSE);
            break;
          }
        default:
          {
            gsize j = i;

            if (c < 0x20 || c == 0x7f)
              return fail_at (p, i, "unexpected control character \\x%02x", c);
            while (j < n && is_word_byte ((guchar) s[j]))
              j++;
            t.kind = TOK_WORD;
            t.length = j - i;
            t.text = g_strndup (s + i, j - i);
            break;
          }
        }
      g_array_append_val (p->tokens, t);
      i += t.length;
    }
}

/* ---- parser ---- */

static const Token *
peek (Parser *p)
{
  return &g_array_index (p->tokens, Token, p->pos);
}

static const Token *
advance (Parser *p)
{
  const Token *t = peek (p);

  if (t->kind != TOK_END)
    p->pos++;
  return t;
}

static gboolean
peek_word (Parser *p, const char *word)
{
  const Token *t = peek (p);

  return t->kind == TOK_WORD && strcmp (t->text, word) == 0;
}

static gboolean
parse_vm_ref (Parser *p, const char *after, VmdVmRef *out)
{
  const Token *t = peek (p);
  g_autoptr(GError) error = NULL;
  VmdPattern id;

  if (t->kind == TOK_WORD && strcmp (t->text, "@focused") == 0)
    {
      advance (p);
      out->name = NULL;
      return TRUE;
    }
  if (t->kind == TOK_WORD && t->text[0] == '@')
    {
      g_autofree char *s = shown (p, t);
      return fail (p, t, "unknown VM reference '%s' (the only one is @focused)", s);
    }
  if (t->kind != TOK_WORD && t->kind != TOK_STRING)
    return fail (p, t, "expected a VM name or @focused after '%s'", after);
  if (t->kind == TOK_WORD && (is_reserved_word (t->text) || parse_id_pattern (t->text, &id)))
    {
      g_autofree char *s = shown (p, t);
      return fail (p, t, "expected a VM name or @focused after '%s', not '%s' (quote a VM "
                   "of that name: \"%s\")", after, s, s);
    }
  if (!vmd_vm_name_validate (t->text, &error))
    return fail (p, t, "bad VM name: %s", error->message);
  advance (p);
  out->name = g_strdup (t->text);
  return TRUE;
}

static const char *const connect_types[] = { "hotplug", "hardwired", "unknown", "not used", "" };

static gboolean
parse_value (Parser *p, VmdAttrKind kind, GArray *patterns, GPtrArray *strings)
{
  const Token *t = peek (p);
  const char *name = vmd_attr_names[kind];
  g_autofree char *s = shown (p, t);
  VmdPattern pattern;

  if (t->kind == TOK_END)
    return fail (p, t, "expected a value after '%s'", name);
  if (kind == VMD_ATTR_ID)
    {
      if (t->kind != TOK_WORD || !parse_id_pattern (t->text, &pattern))
        return fail (p, t, "bad device id '%s' (expected VVVV:PPPP, VVVV:* or *:*, in hex)", s);
      g_array_append_val (patterns, pattern);
    }
  else if (kind == VMD_ATTR_WITH_INTERFACE)
    {
      if (t->kind != TOK_WORD || !parse_interface_pattern (t->text, &pattern))
        return fail (p, t, "bad interface '%s' (expected CC:SS:PP, CC:SS:* or CC:*:*, in hex)", s);
      g_array_append_val (patterns, pattern);
    }
  else
    {
      if (t->kind != TOK_STRING)
        return fail (p, t, "expected a quoted string after '%s', not '%s'", name, s);
      if (kind == VMD_ATTR_WITH_CONNECT_TYPE
          && !g_strv_contains (connect_types, t->text))
        return fail (p, t, "unknown connect type %s (expected \"hotplug\", \"hardwired\", "
                     "\"unknown\", \"not used\" or \"\")", s);
      g_ptr_array_add (strings, g_strdup (t->text));
    }
  advance (p);
  return TRUE;
}

/* Reads `{ v1 v2 ... }` after an optional operator, or one value. */
static gboolean
parse_attribute (Parser *p, VmdAttrKind kind, VmdAttribute *attr)
{
  gboolean has_patterns = kind == VMD_ATTR_ID || kind == VMD_ATTR_WITH_INTERFACE;
  g_autoptr(GArray) patterns = g_array_new (FALSE, FALSE, sizeof (VmdPattern));
  g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  const Token *t = peek (p);

  attr->kind = kind;
  attr->op = VMD_SET_EQUALS;
  if (t->kind == TOK_WORD && set_operator_from_word (t->text, &attr->op))
    {
      advance (p);
      if (peek (p)->kind != TOK_LBRACE)
        return fail (p, peek (p), "expected '{' after '%s'", vmd_set_operator_names[attr->op]);
    }
  if (peek (p)->kind == TOK_LBRACE)
    {
      const Token *open = advance (p);

      while (peek (p)->kind != TOK_RBRACE)
        {
          if (peek (p)->kind == TOK_END)
            return fail (p, peek (p), "unterminated set: expected '}' for the '{' at column %u",
                         column_of (p, open->offset));
          if (!parse_value (p, kind, patterns, strings))
            return FALSE;
        }
      if (patterns->len + strings->len == 0)
        return fail (p, peek (p), "empty set: '{ }' needs at least one value");
      advance (p);
    }
  else if (!parse_value (p, kind, patterns, strings))
    return FALSE;

  attr->n_values = has_patterns ? patterns->len : strings->len;
  if (has_patterns)
    attr->patterns = (VmdPattern *) g_array_free (g_steal_pointer (&patterns), FALSE);
  else
    {
      g_ptr_array_add (strings, NULL);
      attr->strings = (char **) g_ptr_array_free (g_steal_pointer (&strings), FALSE);
    }
  return TRUE;
}

static void
condition_clear (gpointer data)
{
  g_free (((VmdCondition *) data)->vm);
}

static gboolean
parse_condition_atom (Parser *p, GArray *conds)
{
  VmdCondition c = { VMD_COND_TRUE, FALSE, NULL };
  const Token *t = peek (p);
  int kind;
  const char *word;
  VmdVmRef ref;

  if (t->kind == TOK_BANG)
    {
      c.negated = TRUE;
      advance (p);
      t = peek (p);
    }
  if (t->kind == TOK_END)
    return fail (p, t, "expected a condition");
  if (t->kind == TOK_WORD && (kind = WORD_INDEX (t->text, vmd_condition_names)) >= 0)
    c.kind = kind;
  else
    {
      g_autofree char *s = shown (p, t);
      return fail (p, t, "unknown condition '%s' (expected true, false, vm-running(VM), "
                   "on-screen(VM) or auto-assign(VM))", s);
    }
  word = advance (p)->text;
  if (c.kind == VMD_COND_TRUE || c.kind == VMD_COND_FALSE)
    {
      if (peek (p)->kind == TOK_LPAREN)
        return fail (p, peek (p), "'%s' takes no argument", word);
      g_array_append_val (conds, c);
      return TRUE;
    }
  if (peek (p)->kind != TOK_LPAREN)
    return fail (p, peek (p), "'%s' needs a VM: %s(VM) or %s(@focused)", word, word, word);
  advance (p);
  if (!parse_vm_ref (p, "(", &ref))
    return FALSE;
  c.vm = ref.name;
  if (peek (p)->kind != TOK_RPAREN)
    {
      g_free (c.vm);
      return fail (p, peek (p), "expected ')' after the VM name");
    }
  advance (p);
  g_array_append_val (conds, c);
  return TRUE;
}

/* After `if`: one condition, or a set of them with USBGuard's operators. */
static gboolean
parse_condition (Parser *p, VmdRule *rule)
{
  g_autoptr(GArray) conds = g_array_new (FALSE, FALSE, sizeof (VmdCondition));
  const Token *t = peek (p);
  VmdSetOperator op = VMD_SET_EQUALS;

  g_array_set_clear_func (conds, condition_clear);
  if (t->kind == TOK_WORD && set_operator_from_word (t->text, &op))
    {
      if (op == VMD_SET_MATCH_ALL)
        return fail (p, t, "match-all does not apply to conditions (use all-of, one-of or none-of)");
      advance (p);
      if (peek (p)->kind != TOK_LBRACE)
        return fail (p, peek (p), "expected '{' after '%s'", vmd_set_operator_names[op]);
    }
  if (peek (p)->kind == TOK_LBRACE)
    {
      const Token *open = advance (p);

      while (peek (p)->kind != TOK_RBRACE)
        {
          if (peek (p)->kind == TOK_END)
            return fail (p, peek (p), "unterminated set: expected '}' for the '{' at column %u",
                         column_of (p, open->offset));
          if (!parse_condition_atom (p, conds))
            return FALSE;
        }
      if (conds->len == 0)
        return fail (p, peek (p), "empty set: '{ }' needs at least one condition");
      advance (p);
    }
  else if (t->kind == TOK_END)
    return fail (p, t, "expected a condition after 'if'");
  else if (!parse_condition_atom (p, conds))
    return FALSE;

  g_array_set_clear_func (conds, NULL);
  rule->has_condition = TRUE;
  rule->cond_op = op;
  rule->n_conds = conds->len;
  rule->conds = (VmdCondition *) g_array_free (g_steal_pointer (&conds), FALSE);
  return TRUE;
}

static gboolean
fail_target (Parser *p, const Token *t)
{
  g_autofree char *s = shown (p, t);
  const char *const usbguard[] = { "allow", "block", "reject", "match", "device", NULL };

  if (t->kind == TOK_WORD && g_strv_contains (usbguard, t->text))
    return fail (p, t, "'%s' is a USBGuard target; vmdesk's targets are attach, ask, host and deny", s);
  if (t->kind == TOK_WORD)
    return fail (p, t, "unknown target '%s' (expected attach, ask, host or deny)", s);
  return fail (p, t, "expected a target (attach, ask, host or deny), not '%s'", s);
}

/* Something is left where the rule should have ended: say why it cannot stand there. */
static gboolean
fail_trailing (Parser *p, const VmdRule *rule, const Token *t)
{
  g_autofree char *s = shown (p, t);
  gboolean options = rule->sticky || rule->follow;
  VmdAttrKind kind;
  VmdPattern id;

  if (t->kind == TOK_WORD && attr_kind_from_word (t->text, &kind))
    return fail (p, t, "'%s' must come before %s", s, options ? "the options" : "'if'");
  if (t->kind == TOK_WORD && strcmp (t->text, "if") == 0)
    return fail (p, t, rule->has_condition
                 ? "a rule has one 'if' (combine conditions: if all-of { ... })"
                 : "'if' must come before the options");
  if (t->kind == TOK_WORD && parse_id_pattern (t->text, &id))
    return fail (p, t, "'%s' looks like a device id: write 'id %s'", s, s);
  if (t->kind == TOK_STRING)
    return fail (p, t, "unexpected string %s (several values need a set, as in "
                 "name one-of { \"a\" \"b\" })", s);
  if (t->kind == TOK_WORD && (rule->has_condition || options))
    return fail (p, t, "unexpected '%s' (only the options sticky and follow come after "
                 "the condition)", s);
  if (t->kind == TOK_WORD)
    return fail (p, t, "unknown attribute '%s' (expected id, name, serial, hash, parent-hash, "
                 "via-port, with-interface, with-connect-type, label, if, sticky or follow)", s);
  return fail (p, t, "unexpected '%s'", s);
}

static gboolean
parse_ask_vms (Parser *p, GArray *vms)
{
  for (;;)
    {
      const Token *t = peek (p);
      VmdPattern id;
      VmdVmRef ref;

      if (t->kind != TOK_WORD && t->kind != TOK_STRING)
        return TRUE;
      if (t->kind == TOK_WORD && is_reserved_word (t->text))
        return TRUE;
      if (t->kind == TOK_WORD && parse_id_pattern (t->text, &id))
        {
          g_autofree char *s = shown (p, t);
          return fail (p, t, "'%s' looks like a device id: write 'id %s' (quote a VM of that "
                       "name)", s, s);
        }
      if (!parse_vm_ref (p, "ask", &ref))
        return FALSE;
      for (guint i = 0; i < vms->len; i++)
        if (g_strcmp0 (g_array_index (vms, VmdVmRef, i).name, ref.name) == 0)
          {
            g_autofree char *s = shown (p, t);
            g_free (ref.name);
            return fail (p, t, "'%s' is listed twice", s);
          }
      g_array_append_val (vms, ref);
    }
}

static gboolean
parse_options (Parser *p, VmdRule *rule)
{
  while (peek_word (p, "sticky") || peek_word (p, "follow"))
    {
      const Token *t = advance (p);

      if (strcmp (t->text, "sticky") == 0)
        {
          if (rule->sticky)
            return fail (p, t, "'sticky' is given twice");
          if (rule->target == VMD_POLICY_HOST || rule->target == VMD_POLICY_DENY)
            return fail (p, t, "'sticky' needs a VM target (attach or ask), not '%s'",
                         vmd_policy_target_to_string (rule->target));
          rule->sticky = TRUE;
        }
      else
        {
          if (rule->follow)
            return fail (p, t, "'follow' is given twice");
          if (rule->target != VMD_POLICY_ATTACH || rule->vms[0].name != NULL)
            return fail (p, t, "'follow' needs 'attach @focused' (the device follows the VM on screen)");
          rule->follow = TRUE;
        }
    }
  return TRUE;
}

static void
vm_ref_clear (gpointer data)
{
  g_free (((VmdVmRef *) data)->name);
}

static void
attribute_clear (gpointer data)
{
  VmdAttribute *attr = data;

  g_free (attr->patterns);
  g_strfreev (attr->strings);
}

static VmdRule *
parse_rule (Parser *p)
{
  g_autoptr(VmdRule) rule = g_new0 (VmdRule, 1);
  g_autoptr(GArray) vms = g_array_new (FALSE, FALSE, sizeof (VmdVmRef));
  g_autoptr(GArray) attrs = g_array_new (FALSE, FALSE, sizeof (VmdAttribute));
  gsize seen_at[VMD_N_ATTRS];
  gboolean seen[VMD_N_ATTRS] = { FALSE };
  const Token *t = advance (p);
  VmdAttrKind kind;
  int target;

  g_array_set_clear_func (vms, vm_ref_clear);
  g_array_set_clear_func (attrs, attribute_clear);
  if (t->kind != TOK_WORD || (target = WORD_INDEX (t->text, targets)) < 0)
    {
      fail_target (p, t);
      return NULL;
    }
  rule->target = target;
  if (rule->target == VMD_POLICY_ATTACH)
    {
      VmdVmRef ref;
      if (!parse_vm_ref (p, "attach", &ref))
        return NULL;
      g_array_append_val (vms, ref);
    }
  else if (rule->target == VMD_POLICY_ASK && !parse_ask_vms (p, vms))
    return NULL;

  while (peek (p)->kind == TOK_WORD && attr_kind_from_word (peek (p)->text, &kind))
    {
      const Token *keyword = advance (p);
      VmdAttribute attr = { 0 };

      if (seen[kind])
        {
          fail (p, keyword, "'%s' appears twice in one rule (first at column %u)",
                keyword->text, column_of (p, seen_at[kind]));
          return NULL;
        }
      seen[kind] = TRUE;
      seen_at[kind] = keyword->offset;
      if (!parse_attribute (p, kind, &attr))
        return NULL;
      g_array_append_val (attrs, attr);
    }
  if (peek_word (p, "if"))
    {
      advance (p);
      if (!parse_condition (p, rule))
        return NULL;
    }

  g_array_set_clear_func (vms, NULL);
  g_array_set_clear_func (attrs, NULL);
  rule->n_vms = vms->len;
  rule->vms = (VmdVmRef *) g_array_free (g_steal_pointer (&vms), FALSE);
  rule->n_attrs = attrs->len;
  rule->attrs = (VmdAttribute *) g_array_free (g_steal_pointer (&attrs), FALSE);

  if (!parse_options (p, rule))
    return NULL;
  if (peek (p)->kind != TOK_END)
    {
      fail_trailing (p, rule, peek (p));
      return NULL;
    }
  return g_steal_pointer (&rule);
}

static void
add_error (GPtrArray *errors, char *message)
{
  g_ptr_array_add (errors, message);
}

void
vmd_policy_parse_text (const char *text, gsize length, const char *filename,
                       GPtrArray *rules, GPtrArray *errors)
{
  g_autofree char *shown_file = vmd_policy_escape_for_message (filename ? filename : "<built-in>");
  g_autoptr(GArray) tokens = g_array_new (FALSE, FALSE, sizeof (Token));
  const char *end = text + length;
  const char *line = text;
  guint first_error = errors->len;
  guint line_no = 0;

  g_array_set_clear_func (tokens, token_clear);
  while (line != NULL)
    {
      const char *newline = memchr (line, '\n', end - line);
      gsize len = (newline ? newline : end) - line;
      Parser p = { shown_file, line, len, ++line_no, tokens, 0, NULL };
      const char *nul;

      line = newline ? newline + 1 : NULL;
      if (errors->len - first_error >= MAX_ERRORS)
        {
          add_error (errors, g_strdup_printf ("%s:%u: more errors follow; stopped after %d",
                                              shown_file, line_no, MAX_ERRORS));
          return;
        }
      if (len > VMD_POLICY_MAX_LINE)
        {
          add_error (errors, g_strdup_printf ("%s:%u:1: line is %" G_GSIZE_FORMAT " bytes long, "
                                              "more than the %d allowed", shown_file, line_no,
                                              len, VMD_POLICY_MAX_LINE));
          continue;
        }
      if (len > 0 && p.line[len - 1] == '\r')
        p.line_len = --len;   /* a file written on Windows */
      if ((nul = memchr (p.line, '\0', len)) != NULL)
        {
          fail_at (&p, nul - p.line, "NUL byte in a rule file");
          add_error (errors, p.error);
          continue;
        }

      g_array_set_size (tokens, 0);
      if (lex_line (&p) && peek (&p)->kind != TOK_END)
        {
          VmdRule *rule;

          if (rules->len >= VMD_POLICY_MAX_RULES)
            {
              add_error (errors, g_strdup_printf ("%s:%u:1: more than %d rules", shown_file,
                                                  line_no, VMD_POLICY_MAX_RULES));
              return;
            }
          if ((rule = parse_rule (&p)) != NULL)
            {
              rule->index = rules->len;
              rule->file = g_strdup (filename);
              rule->line = line_no;
              vmd_rule_finish (rule);
              g_ptr_array_add (rules, rule);
            }
        }
      if (p.error)
        add_error (errors, p.error);
    }
}
