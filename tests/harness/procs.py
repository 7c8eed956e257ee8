"""Child processes that never outlive the harness.

Every child starts in its own process group, so stopping it also stops whatever it
forked (a QEMU under libvirtd, a template under dbusmock). Anything still running when
the interpreter exits is killed by the atexit hook, even when a test failed.
"""
import atexit
import json
import os
import select
import signal
import subprocess
import time

_live = []


class Child:
    def __init__(self, argv, name=None, env=None, stdout=None, stderr=None, **kw):
        self.name = name or os.path.basename(argv[0])
        self.argv = argv
        self.proc = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr,
                                     start_new_session=True, **kw)
        _live.append(self)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def send(self, sig):
        """Send `sig` to the whole group."""
        if self.running():
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout=10.0, sig=signal.SIGTERM):
        """Stop the whole group: `sig`, then SIGKILL after `timeout`. Returns the exit code."""
        if self.running():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # Children of the group leader may linger after it exits.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self in _live:
            _live.remove(self)
        return self.proc.returncode

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Wait for `predicate()` to become true; raise TimeoutError naming `what`.

    Test-side only: the harness polls its observations, the daemon never polls.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@atexit.register
def _stop_all():
    for child in list(reversed(_live)):
        child.stop(timeout=3)



def pids_where(match):
    """Pids of live processes (not this one) for which match(pid, cmdline) holds."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if match(entry, cmdline):
            found.append(int(entry))
    return found


def processes_mentioning(text):
    """Pids of live processes whose command line contains `text` (a test's workdir)."""
    needle = text.encode()
    return pids_where(lambda pid, cmdline: needle in cmdline)


class Lines:
    """Lines of a child's stdout (a procs.Child with stdout=PIPE), each waited for with a
    timeout."""

    def __init__(self, child):
        self.child = child
        self._fd = child.proc.stdout.fileno()
        self._buf = b""

    def next(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            ready = left > 0 and select.select([self._fd], [], [], left)[0]
            chunk = os.read(self._fd, 65536) if ready else b""
            if not chunk:
                raise TimeoutError(f"{self.child.name}: no line within {timeout}s "
                                   f"(running={self.child.running()})")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    def json(self, timeout=10):
        return json.loads(self.next(timeout))

    def expect(self, wanted, timeout=10):
        line = self.next(timeout)
        if line != wanted:
            raise AssertionError(f"{self.child.name}: expected {wanted!r}, got {line!r}")


def context_switches(pid):
    """{thread id: voluntary + involuntary context switches} of every thread of `pid`:
    how often it woke up (benchmarks of idle wakeups)."""
    counts = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                counts[tid] = sum(int(line.split()[1]) for line in f
                                  if line.startswith(("voluntary_ctxt_switches",
                                                      "nonvoluntary_ctxt_switches")))
        except OSError:  # the thread just exited
            pass
    return counts


def wakeups(pid, seconds):
    """(context switches of `pid`'s threads over `seconds`, threads alive at the end). A
    thread that ends meanwhile takes its own away; a new one counts in full."""
    before = context_switches(pid)
    time.sleep(seconds)
    after = context_switches(pid)
    return sum(n - before.get(tid, 0) for tid, n in after.items()), len(after)
