# Copyright: uplevel contributors
# Apache License 2.0 (see LICENSE in the repository)
"""Run the `uplevel` command with `--json` and read its envelope (docs/json-output.md).

The modules of this collection talk to uplevel only through this file, and only through the
JSON document on stdout: they never read its human output, so a reworded message cannot
change what a playbook decides. Nothing here changes a home by itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

ENVELOPE_VERSION = 1

# Exit codes of the uplevel command (docs: PRODUCT.md, `uplevel --help`).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFLICTS = 3
EXIT_REFUSED = 4

COMMON_ARGS = {
    "home": {"type": "path", "required": True},
    "uplevel": {"type": "path"},
    "env": {"type": "dict", "default": {}},
}


class Envelope:
    """One `uplevel … --json` run: its exit code and the parsed envelope."""

    def __init__(self, argv: list[str], rc: int, doc: dict, stderr: str) -> None:
        self.argv = argv
        self.rc = rc
        self.doc = doc
        self.stderr = stderr

    @property
    def ok(self) -> bool:
        return self.rc == EXIT_OK

    @property
    def result(self) -> dict:
        return self.doc.get("result") or {}

    @property
    def error(self) -> dict:
        return self.doc.get("error") or {}

    def error_text(self) -> str:
        """The error's message and hint, as uplevel gave them, for a module's `msg`."""
        message = self.error.get("message") or f"exit code {self.rc}"
        hint = self.error.get("hint")
        return f"{message} ({hint})" if hint else message


def find_uplevel(module) -> str:
    """The uplevel executable: the `uplevel` option, else PATH, else next to the interpreter
    this module runs under (a virtualenv's bin directory)."""
    given = module.params.get("uplevel")
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            module.fail_json(msg=f"uplevel executable {given} is missing or not executable")
        return given
    found = shutil.which("uplevel")
    if found:
        return found
    beside = os.path.join(os.path.dirname(sys.executable), "uplevel")
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    module.fail_json(
        msg="uplevel executable not found on PATH nor next to "
        f"{sys.executable}; install uplevel on the node or set the `uplevel` option"
    )
    raise AssertionError("fail_json returned")  # pragma: no cover


def run(module, command: list[str], *args: str) -> Envelope:
    """Run `uplevel COMMAND --home HOME ARGS --json`; fail the module when no envelope comes."""
    exe = find_uplevel(module)
    argv = [exe, *command, "--home", module.params["home"], *args, "--json"]
    env = {str(k): str(v) for k, v in (module.params.get("env") or {}).items()}
    rc, out, err = module.run_command(argv, environ_update=env, check_rc=False)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("uplevel") != ENVELOPE_VERSION:
        module.fail_json(
            msg=f"`{' '.join(argv)}` exited {rc} without a JSON envelope of version "
            f"{ENVELOPE_VERSION}; is this uplevel too old or too new for the collection?",
            rc=rc,
            stdout=out,
            stderr=err,
        )
    return Envelope(argv, rc, doc, err)


def status(module) -> dict:
    """`uplevel status --json` of the home, or the module fails with uplevel's error."""
    env = run(module, ["status"])
    if not env.ok:
        module.fail_json(
            msg=f"uplevel status failed on {module.params['home']}: {env.error_text()}",
            rc=env.rc,
            error=env.error,
        )
    return env.result


def profile(module) -> dict:
    """The product profile in effect for the home (`uplevel profile --json`)."""
    env = run(module, ["profile"])
    if not env.ok:
        module.fail_json(
            msg=f"uplevel profile failed on {module.params['home']}: {env.error_text()}",
            rc=env.rc,
            error=env.error,
        )
    profiles = env.result.get("profiles") or [{}]
    return profiles[0]


def live_pid(home: str, pid_file: str) -> int | None:
    """The pid in the profile's pid file if that process lives (uplevel's running test)."""
    if not pid_file:
        return None
    try:
        with open(os.path.join(home, pid_file)) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def wait_stopped(module, pid_file: str, seconds: int) -> None:
    """Wait up to `seconds` until the profile's pid file names no live process (a stop
    command may return before the server has ended); fail the module if it still runs."""
    home = module.params["home"]
    deadline = time.monotonic() + seconds
    while True:
        pid = live_pid(home, pid_file)
        if pid is None:
            return
        if time.monotonic() >= deadline:
            module.fail_json(
                msg=f"the product in {home} still runs (pid {pid} in {pid_file}) "
                f"{seconds} s after it was asked to stop; nothing was changed"
            )
        time.sleep(0.2)


def conflict_list(conflicts: list) -> list[dict]:
    """Conflicts as an operator reads them: the path, why, and each conflicting setting
    (base, local = the node's own value, update = the update's value) when the file's
    format was merged by structure."""
    out = []
    for c in conflicts or []:
        out.append(
            {
                "path": c.get("path"),
                "reason": c.get("reason"),
                "format": c.get("format"),
                "settings": [
                    {
                        "setting": s.get("path"),
                        "base": s.get("base"),
                        "local": s.get("ours"),
                        "update": s.get("theirs"),
                    }
                    for s in c.get("settings") or []
                ],
                "helpers": c.get("helpers") or [],
            }
        )
    return out


def conflict_text(conflicts: list[dict]) -> str:
    """One line per conflict, e.g. `conf/server.toml: server.threads (base 8, local 32,
    update 16)`."""
    parts = []
    for c in conflicts:
        settings = [
            f"{s['setting']} (base {s['base']}, local {s['local']}, update {s['update']})"
            for s in c["settings"]
        ]
        detail = ", ".join(settings) if settings else c.get("reason") or "conflict"
        parts.append(f"{c['path']}: {detail}")
    return "; ".join(parts)
