#!/usr/bin/python
# Copyright: uplevel contributors
# Apache License 2.0 (see LICENSE in the repository)
"""Ansible module: what uplevel knows about a home, and how its product is run."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uplevel_status
short_description: Level, channel, local changes, pending work and profile of a product home
version_added: "0.1.0"
description:
  - Reads C(uplevel status --json) and C(uplevel profile --json) of a home and returns them,
    also as the fact C(uplevel).
  - Changes nothing, in check mode or not.
  - C(running) says whether the profile's pid file names a live process (what makes
    uplevel refuse to change the home, exit code 4).
options:
  home:
    description: The product home, adopted with C(uplevel init).
    type: path
    required: true
  uplevel:
    description:
      - Path of the uplevel executable on the node. Default, C(uplevel) on PATH, else next
        to the Python interpreter the module runs under.
    type: path
  env:
    description: Environment variables for uplevel, e.g. C(UPLEVEL_PROFILES).
    type: dict
    default: {}
  check:
    description:
      - Also ask the update server the home follows what is pending (C(uplevel check)), for
        C(latest_level) and C(security_pending). Homes without a server return null for both.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
seealso:
  - module: uplevel.fleet.uplevel_update
author:
  - uplevel contributors
"""

EXAMPLES = r"""
- name: Where is this node?
  uplevel.fleet.uplevel_status:
    home: /opt/wso2am-4.2.0
  register: node

- name: Refuse to go on with a stopped update
  ansible.builtin.assert:
    that: not node.stopped
    fail_msg: "{{ inventory_hostname }} has an update stopped on conflicts"
"""

RETURN = r"""
product:
  description: NAME-VERSION of the product.
  returned: always
  type: str
  sample: wso2am-4.2.0
level:
  description: The home's update level (0 = the base pack).
  returned: always
  type: int
channel:
  description: C(full) or C(security).
  returned: always
  type: str
local_changes:
  description: Paths that differ from pristine, by kind (C(modified), C(added), C(deleted)).
  returned: always
  type: dict
local_changes_count:
  description: How many paths differ from pristine.
  returned: always
  type: int
pending:
  description:
    - The update stopped on conflicts (C(transaction), C(from_level), C(to_level),
      C(conflicts)), or null.
  returned: always
  type: dict
stopped:
  description: Whether an update is stopped on conflicts (waiting for continue or abort).
  returned: always
  type: bool
conflicts:
  description: The stopped update's conflicts (path, reason, format, settings), or empty.
  returned: always
  type: list
  elements: dict
busy:
  description: Whether another uplevel holds the home.
  returned: always
  type: bool
running:
  description: Whether the profile's pid file names a live process.
  returned: always
  type: bool
pid:
  description: The pid the pid file names, or null.
  returned: always
  type: int
profile:
  description:
    - The profile in effect (C(name), C(pid_file), C(start), C(stop), C(health_url),
      C(health_command), C(health_timeout), and the other keys of docs/profiles.md).
  returned: always
  type: dict
server:
  description: The update server the home follows, or null (offline bundles only).
  returned: always
  type: str
latest_level:
  description: With C(check), the newest level the server publishes; else null.
  returned: always
  type: int
security_pending:
  description: With C(check), how many published security updates the home lacks; else null.
  returned: always
  type: int
notes:
  description: uplevel's notes on the home.
  returned: always
  type: list
  elements: str
ansible_facts:
  description: The same values under C(uplevel).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.uplevel.fleet.plugins.module_utils.uplevel_cli import (  # noqa: E402
    COMMON_ARGS,
    conflict_list,
    live_pid,
    profile,
    run,
    status,
)


def server_pending(module, server: str | None) -> tuple[int | None, int | None]:
    """(latest level, security updates pending) from `uplevel check`; (None, None) for a
    home without a server. A server that does not answer fails the module."""
    if not (module.params["check"] and server):
        return None, None
    env = run(module, ["check"])
    if not env.ok:
        module.fail_json(msg=f"uplevel check: {env.error_text()}", rc=env.rc)
    result = env.result
    return result["latest"], result["security_pending"]


def main() -> None:
    module = AnsibleModule(
        argument_spec={**COMMON_ARGS, "check": {"type": "bool", "default": False}},
        supports_check_mode=True,
    )
    s = status(module)
    latest, security = server_pending(module, s.get("server"))
    prof = profile(module)
    changes = s.get("local_changes") or {}
    pid = live_pid(module.params["home"], prof.get("pid_file") or "")
    pending = s.get("pending")
    facts = {
        "home": s.get("home"),
        "product": s.get("product"),
        "level": s.get("level"),
        "channel": s.get("channel"),
        "local_changes": changes,
        "local_changes_count": sum(len(v) for v in changes.values()),
        "pending": pending,
        "stopped": pending is not None,
        "conflicts": conflict_list((pending or {}).get("conflicts")),
        "busy": bool(s.get("busy")),
        "running": pid is not None,
        "pid": pid,
        "profile": prof,
        "server": s.get("server"),
        "latest_level": latest,
        "security_pending": security,
        "notes": s.get("notes") or [],
    }
    module.exit_json(changed=False, ansible_facts={"uplevel": facts}, **facts)


if __name__ == "__main__":
    main()
