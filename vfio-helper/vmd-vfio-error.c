/* vmd-vfio-error.c: the error domain of vfio-helper. */
#include "vmdesk-vfio.h"

G_DEFINE_QUARK (vmd-vfio-error-quark, vmd_vfio_error)
