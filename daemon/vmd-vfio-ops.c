/* vmd-vfio-ops.c: the daemon's calls into vfio-helper. The daemon never forces: what the
 * check finds failing or the plan refuses stops a start, with every reason in the error. */
#include "vmd-vfio-ops.h"

#include "vmdesk-vfio.h"

struct _VmdVfioLibrary {
  char            *state_dir;
  GDBusConnection *system_bus;
  guint            watchdog_seconds;
};

VmdVfioLibrary *
vmd_vfio_library_new (const char *state_dir, GDBusConnection *system_bus, guint watchdog_seconds)
{
  VmdVfioLibrary *lib = g_new0 (VmdVfioLibrary, 1);

  lib->state_dir = g_strdup (state_dir);
  lib->system_bus = system_bus ? g_object_ref (system_bus) : NULL;
  lib->watchdog_seconds = watchdog_seconds;
  return lib;
}

void
vmd_vfio_library_free (VmdVfioLibrary *lib)
{
  if (lib == NULL)
    return;
  g_clear_object (&lib->system_bus);
  g_free (lib->state_dir);
  g_free (lib);
}

static VmdVfioPlanFlags
plan_flags (gboolean single_gpu)
{
  return single_gpu ? VMD_VFIO_PLAN_SINGLE_GPU : VMD_VFIO_PLAN_DEFAULT;
}

static const char *
member_or (JsonObject *o, const char *name, const char *fallback)
{
  return json_object_has_member (o, name) && !json_object_get_null_member (o, name)
    ? json_object_get_string_member (o, name) : fallback;
}

/* "[id] message (fix: ...)" for each refusal a plan's JSON lists as not overridden; the
 * library's own error text offers --force, which the daemon never uses. */
static void
append_refusals (GString *why, VmdVfioPlan *plan)
{
  g_autoptr(JsonNode) json = vmd_vfio_plan_to_json (plan);
  JsonArray *refusals = json_object_get_array_member (json_node_get_object (json), "refusals");

  for (guint i = 0; i < json_array_get_length (refusals); i++)
    {
      JsonObject *r = json_array_get_object_element (refusals, i);
      const char *fix = member_or (r, "fix", NULL);

      if (json_object_get_boolean_member (r, "overridden"))
        continue;
      g_string_append_printf (why, "%s%s: [%s] %s", why->len ? "; " : "",
                              vmd_vfio_plan_get_bdf (plan), member_or (r, "id", "?"),
                              member_or (r, "message", ""));
      if (fix)
        g_string_append_printf (why, " (fix: %s)", fix);
    }
}

static gboolean
lib_preflight (gpointer data, const char *const *bdfs, gboolean single_gpu, GError **error)
{
  VmdVfioLibrary *lib = data;
  g_autoptr(VmdVfioReport) report = vmd_vfio_check (bdfs, error);
  g_autoptr(GString) why = g_string_new (NULL);
  GPtrArray *findings;

  if (report == NULL)
    return FALSE;
  findings = vmd_vfio_report_get_findings (report);
  for (guint i = 0; i < findings->len; i++)
    {
      const VmdVfioFinding *f = findings->pdata[i];

      if (f->severity != VMD_VFIO_FAIL)
        continue;
      g_string_append_printf (why, "%s%s: [%s] %s", why->len ? "; " : "",
                              f->bdf ? f->bdf : "host", f->id, f->message);
      if (f->fix)
        g_string_append_printf (why, " (fix: %s)", f->fix);
    }
  /* The plans only when the check passed: an absent device has no plan to make. */
  for (guint i = 0; why->len == 0 && bdfs[i]; i++)
    {
      g_autoptr(VmdVfioPlan) plan = vmd_vfio_plan_new (bdfs[i], plan_flags (single_gpu),
                                                       lib->system_bus, error);
      if (plan == NULL)
        return FALSE;
      if (!vmd_vfio_plan_check_allowed (plan, NULL))
        append_refusals (why, plan);
    }
  if (why->len == 0)
    return TRUE;
  g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_REFUSED, "%s", why->str);
  return FALSE;
}

static GStrv
lib_bind (gpointer data, const char *bdf, gboolean single_gpu, GError **error)
{
  VmdVfioLibrary *lib = data;
  g_autoptr(VmdVfioPlan) plan = vmd_vfio_plan_new (bdf, plan_flags (single_gpu), lib->system_bus,
                                                   error);
  GPtrArray *functions;

  if (plan == NULL
      || !vmd_vfio_bind (plan, lib->state_dir, single_gpu ? lib->watchdog_seconds : 0,
                         lib->system_bus, error))
    return NULL;
  functions = g_ptr_array_new ();
  for (guint i = 0; i < vmd_vfio_plan_get_n_functions (plan); i++)
    g_ptr_array_add (functions, g_strdup (vmd_vfio_plan_get_function (plan, i)));
  g_ptr_array_add (functions, NULL);
  return (GStrv) g_ptr_array_free (functions, FALSE);
}

static gboolean
lib_release (gpointer data, const char *bdf, GError **error)
{
  VmdVfioLibrary *lib = data;

  return vmd_vfio_release (bdf, lib->state_dir, VMD_VFIO_RELEASE_DEFAULT, error);
}

static gboolean
lib_confirm (gpointer data, const char *bdf, GError **error)
{
  VmdVfioLibrary *lib = data;

  return vmd_vfio_confirm (bdf, lib->state_dir, error);
}

static GPtrArray *
lib_recover (gpointer data, GError **error)
{
  VmdVfioLibrary *lib = data;

  return vmd_vfio_recover (lib->state_dir, error);
}

static char *
json_text (JsonNode *node)
{
  g_autoptr(JsonNode) owned = node;
  g_autofree char *text = json_to_string (owned, FALSE);

  /* D-Bus strings must be UTF-8; the library escapes already, this makes it certain. */
  return g_utf8_make_valid (text, -1);
}

static char *
lib_check_json (gpointer data, const char *const *bdfs, GError **error)
{
  g_autoptr(VmdVfioReport) report = vmd_vfio_check (bdfs, error);

  return report ? json_text (vmd_vfio_report_to_json (report)) : NULL;
}

static char *
lib_plan_json (gpointer data, const char *bdf, gboolean single_gpu, GError **error)
{
  VmdVfioLibrary *lib = data;
  g_autoptr(VmdVfioPlan) plan = vmd_vfio_plan_new (bdf, plan_flags (single_gpu), lib->system_bus,
                                                   error);

  return plan ? json_text (vmd_vfio_plan_to_json (plan)) : NULL;
}

static const VmdVfioOps library_ops = {
  lib_preflight, lib_bind, lib_release, lib_confirm, lib_recover, lib_check_json, lib_plan_json,
};

const VmdVfioOps *
vmd_vfio_library_ops (void)
{
  return &library_ops;
}
