/* mock-service.h: python-dbusmock services on a private session bus, for the ui/ tests. */
#pragma once

#include <gio/gio.h>

typedef struct {
  GTestDBus       *dbus;
  GDBusConnection *conn;      /* shared by the code under test and the test itself */
} TestBus;

TestBus *test_bus_new (void);
void     test_bus_free (TestBus *bus);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestBus, test_bus_free)

typedef struct {
  GDBusConnection *conn;
  GSubprocess     *proc;
  char            *bus_name;
  char            *path;
  char            *owner;     /* unique name while running */
  guint            called_sub;
  GHashTable      *called;    /* method name -> count of MethodCalled seen */
} MockService;

/* `template`: a dbusmock template name or path; `params_json` may be NULL. Returns once
 * the template is loaded (dbusmock owns the name before it serves calls). */
MockService *mock_service_start (GDBusConnection *conn, const char *template,
                                 const char *params_json, const char *bus_name,
                                 const char *path);
void         mock_service_stop (MockService *mock);
void         mock_service_free (MockService *mock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MockService, mock_service_free)

/* The mock's call log for `method`: a(tav). */
GVariant *mock_service_calls (MockService *mock, const char *method);
/* Emits a signal from the mock's main object; `args` is a floating "av". */
void      mock_service_emit (MockService *mock, const char *interface, const char *name,
                             const char *signature, GVariant *args);
/* Runs the main context until `method` has been called `count` times, then syncs. */
void      mock_service_wait_called (MockService *mock, const char *method, guint count);
/* Barrier: every message the mock sent before this call has been dispatched. Signals
 * from one sender arrive in order, and GDBus queues them on the main context before the
 * reply to this call returns; then the main context is drained. */
void      mock_service_sync (MockService *mock);

/* Runs the main context until cond(data), failing the test after 10 s. */
void test_wait (gboolean (*cond) (gpointer data), gpointer data, const char *what);
void test_drain (void);
