/* vmdesk-evstate: what a guest's input device reports, for tests that look from inside.
 *
 *   vmdesk-evstate NAME    prints "SW_LID=0|1" for the input device called NAME
 *
 * Reads the switch state the kernel holds (EVIOCGSW), the same state logind reads when it
 * starts watching the device. Exit 0 when found, 1 when no such device, 2 on usage.
 * Built statically by build-guest-image for the test guest's initramfs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define BITS_PER_LONG (8 * sizeof (unsigned long))

static int
bit_set (const unsigned long *bits, unsigned bit)
{
  return (bits[bit / BITS_PER_LONG] >> (bit % BITS_PER_LONG)) & 1;
}

int
main (int argc, char **argv)
{
  DIR *dir;
  struct dirent *entry;
  int found = 0;

  if (argc != 2)
    {
      fprintf (stderr, "usage: vmdesk-evstate DEVICE-NAME\n");
      return 2;
    }
  dir = opendir ("/dev/input");
  if (!dir)
    {
      perror ("/dev/input");
      return 1;
    }
  while (!found && (entry = readdir (dir)) != NULL)
    {
      char path[300], name[256] = "";
      unsigned long sw_caps[SW_CNT / BITS_PER_LONG + 1] = { 0 };
      unsigned long sw_state[SW_CNT / BITS_PER_LONG + 1] = { 0 };
      int fd;

      if (strncmp (entry->d_name, "event", 5) != 0)
        continue;
      snprintf (path, sizeof path, "/dev/input/%s", entry->d_name);
      fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      if (ioctl (fd, EVIOCGNAME (sizeof name - 1), name) >= 0 && strcmp (name, argv[1]) == 0)
        {
          found = 1;
          if (ioctl (fd, EVIOCGBIT (EV_SW, sizeof sw_caps), sw_caps) < 0 ||
              !bit_set (sw_caps, SW_LID))
            printf ("SW_LID=none\n");
          else if (ioctl (fd, EVIOCGSW (sizeof sw_state), sw_state) < 0)
            {
              perror ("EVIOCGSW");
              found = 0;
            }
          else
            printf ("SW_LID=%d\n", bit_set (sw_state, SW_LID));
        }
      close (fd);
    }
  closedir (dir);
  if (!found)
    fprintf (stderr, "vmdesk-evstate: no input device named \"%s\"\n", argv[1]);
  return found ? 0 : 1;
}
