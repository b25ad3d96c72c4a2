#!/usr/bin/python
# Copyright: uplevel contributors
# Apache License 2.0 (see LICENSE in the repository)
"""Ansible module: take a home back to an earlier level with `uplevel revert`."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uplevel_revert
short_description: Revert a product home to an earlier update level with uplevel
version_added: "0.1.0"
description:
  - Runs C(uplevel revert --json), which brings the home back to a level as it was then,
    from uplevel's backup store (the node's later edits are kept in that store).
  - Idempotent, when the home is already at I(level) nothing runs and C(changed) is false.
  - An update stopped on conflicts is first undone with C(uplevel abort) (see
    I(abort_pending)); when that alone reaches I(level) nothing more runs.
  - The product must be stopped (uplevel refuses otherwise, exit code 4) unless I(force).
options:
  home:
    description: The product home, adopted with C(uplevel init).
    type: path
    required: true
  level:
    description:
      - The level to go back to. Default, the level before the last update.
    type: int
  abort_pending:
    description: Undo an update stopped on conflicts (C(uplevel abort)) before reverting.
    type: bool
    default: true
  force:
    description: Proceed even if the product seems to run.
    type: bool
    default: false
  wait_stopped:
    description:
      - Seconds to wait, before changing the home, until the profile's pid file names no
        live process. 0 does not wait (uplevel then refuses a running product, exit code 4).
    type: int
    default: 0
  uplevel:
    description:
      - Path of the uplevel executable on the node. Default, C(uplevel) on PATH, else next
        to the Python interpreter the module runs under.
    type: path
  env:
    description: Environment variables for uplevel, e.g. C(UPLEVEL_PROFILES).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description:
      - uplevel has no C(revert --dry-run); check mode compares levels only. Without
        I(level) it reports a change when the home has any level above 0, and
        C(level_after) is null.
seealso:
  - module: uplevel.fleet.uplevel_update
author:
  - uplevel contributors
"""

EXAMPLES = r"""
- name: Back to the level recorded before the rollout
  uplevel.fleet.uplevel_revert:
    home: /opt/wso2am-4.2.0
    level: "{{ node_before.level }}"

- name: Undo the last update
  uplevel.fleet.uplevel_revert:
    home: /opt/wso2am-4.2.0
"""

RETURN = r"""
changed:
  description: Whether the home changed (in check mode, whether it would).
  returned: always
  type: bool
level_before:
  description: The home's level before the module ran.
  returned: always
  type: int
level_after:
  description: The home's level after (null in check mode without I(level)).
  returned: always
  type: int
aborted:
  description: Whether a stopped update was undone with C(uplevel abort).
  returned: always
  type: bool
running:
  description: Whether the profile's pid file names a live process when the module ends.
  returned: always
  type: bool
result:
  description: The C(result) of C(uplevel revert --json) (docs/json-output.md), as is.
  returned: when uplevel reverted
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.uplevel.fleet.plugins.module_utils.uplevel_cli import (  # noqa: E402
    COMMON_ARGS,
    EXIT_REFUSED,
    live_pid,
    profile,
    run,
    status,
    wait_stopped,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **COMMON_ARGS,
            "level": {"type": "int"},
            "abort_pending": {"type": "bool", "default": True},
            "force": {"type": "bool", "default": False},
            "wait_stopped": {"type": "int", "default": 0},
        },
        supports_check_mode=True,
    )
    p = module.params
    home = p["home"]
    s = status(module)
    level = s["level"]
    pid_file = profile(module).get("pid_file") or ""
    out = {"changed": False, "level_before": level, "level_after": level, "aborted": False}
    force = ["--force"] if p["force"] else []
    must_change = s.get("pending") or (p["level"] is None or p["level"] != level)
    if must_change and not module.check_mode and p["wait_stopped"] > 0 and not p["force"]:
        wait_stopped(module, pid_file, p["wait_stopped"])
    out["running"] = live_pid(home, pid_file) is not None

    if s.get("pending"):
        if not p["abort_pending"]:
            module.fail_json(
                msg=f"{home} has an update stopped on conflicts; `uplevel abort` it first",
                **out,
            )
        out["changed"] = out["aborted"] = True
        if not module.check_mode:
            aborted = run(module, ["abort"], *force)
            if not aborted.ok:
                module.fail_json(
                    msg=f"uplevel abort on {home} failed: {aborted.error_text()}",
                    rc=aborted.rc,
                    error=aborted.error,
                    **{**out, "changed": False, "aborted": False},
                )
            level = status(module)["level"]
            out["level_after"] = level

    if p["level"] is not None and p["level"] == level:
        module.exit_json(**out)
    if p["level"] is not None and p["level"] > level:
        module.fail_json(
            msg=f"{home} is at level {level}; revert goes back, not up to {p['level']}", **out
        )
    if module.check_mode:
        would = p["level"] is not None or level > 0
        module.exit_json(**{**out, "changed": would or out["changed"], "level_after": p["level"]})

    args = (["--level", str(p["level"])] if p["level"] is not None else []) + force
    env = run(module, ["revert"], *args)
    if not env.ok:
        why = (
            "refused: the product is running or another uplevel holds the home (exit 4)"
            if env.rc == EXIT_REFUSED
            else f"failed (exit {env.rc})"
        )
        module.fail_json(
            msg=f"uplevel revert on {home} {why}: {env.error_text()}",
            rc=env.rc,
            error=env.error,
            **out,
        )
    out.update(changed=True, level_after=env.result.get("to_level"), result=env.result)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
