/* fuzz-replay.c: runs a libFuzzer target over every file of its corpus without libFuzzer,
 * so gcc builds replay the corpus as a plain regression test. Usage: NAME DIR|FILE... */
#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static guint
replay_path (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length = 0;
  guint count = 0;

  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          count += replay_path (child);
        }
      return count;
    }
  if (!g_file_get_contents (path, &contents, &length, NULL))
    g_error ("cannot read %s", path);
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, length);
  return 1;
}

int
main (int argc, char **argv)
{
  guint count = 0;

  for (int i = 1; i < argc; i++)
    count += replay_path (argv[i]);
  if (count == 0)
    g_error ("empty corpus");
  g_print ("replayed %u inputs\n", count);
  return 0;
}
