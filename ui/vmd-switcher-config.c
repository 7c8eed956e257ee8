/* vmd-switcher-config.c: the user's switcher settings, ~/.config/vmdesk/switcher.conf.
 *
 *   [switcher]
 *   hotkey=<Super>Tab
 *   [vm gaming]
 *   on-screen-command=ddcutil setvcp 60 0x0f
 *   [host]
 *   on-screen-command=ddcutil setvcp 60 0x11
 *
 * Commands are split like a shell would but never run through one. */
#include "vmd-ui-private.h"

#include "vmdesk-common.h"

VmdSwitcherConfig *
vmd_switcher_config_new_default (void)
{
  VmdSwitcherConfig *config = g_new0 (VmdSwitcherConfig, 1);

  config->hotkey = g_strdup (VMD_SWITCHER_DEFAULT_HOTKEY);
  config->commands = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_strfreev);
  return config;
}

void
vmd_switcher_config_free (VmdSwitcherConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->hotkey);
  g_hash_table_unref (config->commands);
  g_free (config);
}

static gboolean
read_command (VmdSwitcherConfig *config, GKeyFile *file, const char *path, const char *group,
              const char *vm, GError **error)
{
  g_autofree char *line = g_key_file_get_string (file, group, "on-screen-command", NULL);
  char **argv = NULL;
  g_autoptr(GError) local = NULL;

  if (line == NULL)
    return TRUE;
  if (!g_shell_parse_argv (line, NULL, &argv, &local))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "%s: [%s] on-screen-command: %s", path, group, local->message);
      return FALSE;
    }
  g_hash_table_insert (config->commands, g_strdup (vm), argv);
  return TRUE;
}

VmdSwitcherConfig *
vmd_switcher_config_load (const char *path, GError **error)
{
  g_autoptr(VmdSwitcherConfig) config = vmd_switcher_config_new_default ();
  g_autoptr(GKeyFile) file = g_key_file_new ();
  g_autoptr(GError) local = NULL;
  g_auto(GStrv) groups = NULL;
  g_autofree char *hotkey = NULL;

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, &local))
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&config);
      g_set_error (error, local->domain, local->code, "%s: %s", path, local->message);
      return NULL;
    }
  hotkey = g_key_file_get_string (file, "switcher", "hotkey", NULL);
  if (hotkey)
    {
      guint key = 0;
      GdkModifierType mods = 0;

      gtk_accelerator_parse (hotkey, &key, &mods);
      if (key == 0)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "%s: [switcher] hotkey: \"%s\" is not a key such as <Super>Tab", path, hotkey);
          return NULL;
        }
      g_free (config->hotkey);
      config->hotkey = g_steal_pointer (&hotkey);
    }
  groups = g_key_file_get_groups (file, NULL);
  for (guint i = 0; groups[i]; i++)
    {
      if (g_str_equal (groups[i], "host"))
        {
          if (!read_command (config, file, path, groups[i], "", error))
            return NULL;
        }
      else if (g_str_has_prefix (groups[i], "vm "))
        {
          const char *vm = groups[i] + 3;

          if (!vmd_vm_name_validate (vm, &local))
            {
              g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                           "%s: [%s]: %s", path, groups[i], local->message);
              return NULL;
            }
          if (!read_command (config, file, path, groups[i], vm, error))
            return NULL;
        }
    }
  return g_steal_pointer (&config);
}
