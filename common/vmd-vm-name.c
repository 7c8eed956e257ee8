/* vmd-vm-name.c: the one check every VM name from outside passes before use. */
#include "vmdesk-common.h"

#include <string.h>

gboolean
vmd_vm_name_validate (const char *name, GError **error)
{
  if (name == NULL || *name == '\0')
    {
      g_set_error_literal (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS, "VM name is empty");
      return FALSE;
    }
  if (strlen (name) > VMD_VM_NAME_MAX)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS,
                   "VM name is longer than %d bytes", VMD_VM_NAME_MAX);
      return FALSE;
    }
  if (!g_utf8_validate (name, -1, NULL))
    {
      g_set_error_literal (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS, "VM name is not UTF-8");
      return FALSE;
    }
  for (const char *p = name; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      /* libvirt refuses '/' in names; control characters would garble logs and menus. */
      if (c == '/' || g_unichar_iscntrl (c))
        {
          g_autofree char *shown = g_strescape (name, NULL);
          g_set_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS,
                       "VM name \"%s\" contains a '/' or a control character", shown);
          return FALSE;
        }
    }
  return TRUE;
}
