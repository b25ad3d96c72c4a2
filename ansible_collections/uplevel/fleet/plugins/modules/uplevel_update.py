#!/usr/bin/python
# Copyright: uplevel contributors
# Apache License 2.0 (see LICENSE in the repository)
"""Ansible module: bring a home to an update level with `uplevel apply` or `uplevel update`."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: uplevel_update
short_description: Update a product home in place with uplevel
version_added: "0.1.0"
description:
  - Brings an installed product directory (the I(home)) to a newer update level with
    C(uplevel apply BUNDLE) (offline bundle) or C(uplevel update) (the update server the
    home follows).
  - Drives C(uplevel ... --json) and reads only its JSON envelope, never human output.
  - Idempotent, when the home is already at the target level nothing runs and
    C(changed) is false.
  - In check mode the update runs as C(--dry-run), the plan (and any conflicts) is
    returned and nothing on the node changes.
  - When the update stops on conflicts (uplevel exit code 3) the module runs
    C(uplevel abort) by default, so the home is exactly as it was, and fails with the
    conflict list.
  - The product must be stopped first (uplevel refuses to change a home whose server runs,
    exit code 4) unless I(force) is set; the C(uplevel.fleet.rolling_update) role does that.
options:
  home:
    description: The product home (C(<API-M_HOME>)), adopted with C(uplevel init).
    type: path
    required: true
  level:
    description:
      - The level to go to. With I(bundle), it must be the bundle's last level (checked).
      - Without it, the newest level the server offers, or the bundle's last level.
    type: int
  channel:
    description:
      - The channel the home must follow (C(full) or C(security)); the module fails when
        the home follows another one. uplevel sets the channel at C(uplevel init).
    type: str
    choices: [full, security]
  bundle:
    description:
      - Path, on the node, of an offline bundle (C(uplevel bundle create) or
        C(uplevel export)). Its descriptor says which levels it carries.
    type: path
  server:
    description:
      - The update server URL the home must follow (set by C(uplevel init --server)); the
        module fails when the home follows another one. The update comes from the home's
        server whether or not this is given, when I(bundle) is not.
    type: str
  on_conflict:
    description:
      - C(stop) stops on a true conflict (the module then aborts, see I(abort_on_conflict));
        C(new) takes the update's side, C(local) keeps the node's side (the other side stays
        in uplevel's backup store).
    type: str
    choices: [stop, new, local]
    default: stop
  abort_on_conflict:
    description:
      - When the update stops on conflicts, run C(uplevel abort) so the home is as it was
        before. Set to false to leave C(f.original), C(f.new) and C(f.merge) in place for
        manual resolution with C(uplevel continue).
    type: bool
    default: true
  force:
    description: Proceed even if the product seems to run.
    type: bool
    default: false
  wait_stopped:
    description:
      - Seconds to wait, before changing the home, until the profile's pid file names no
        live process (a stop command may return before the server has ended). 0 does not
        wait (uplevel then refuses a running product, exit code 4).
    type: int
    default: 0
  token_file:
    description: File holding the subscriber token (online updates).
    type: path
  ca_bundle:
    description: CA certificates to trust for the update server.
    type: path
  uplevel:
    description:
      - Path of the uplevel executable on the node. Default, C(uplevel) on PATH, else next
        to the Python interpreter the module runs under.
    type: path
  env:
    description:
      - Environment variables for uplevel, e.g. C(UPLEVEL_PROFILES) (operator profile
        directories) or C(UPLEVEL_TOKEN).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Runs the update with C(--dry-run); conflicts are reported, not aborted.
notes:
  - I(bundle) and I(server) are mutually exclusive.
  - A home with an update already stopped on conflicts is refused; resolve it
    (C(uplevel continue) or C(uplevel abort), or the C(uplevel_revert) module).
seealso:
  - module: uplevel.fleet.uplevel_status
  - module: uplevel.fleet.uplevel_revert
author:
  - uplevel contributors
"""

EXAMPLES = r"""
- name: Apply an offline bundle (the product is stopped)
  uplevel.fleet.uplevel_update:
    home: /opt/wso2am-4.2.0
    bundle: /var/tmp/wso2am-4.2.0-0-to-3.bundle
  register: update

- name: Update from the server the home follows, to level 5, taking the node's side on conflicts
  uplevel.fleet.uplevel_update:
    home: /opt/wso2am-4.2.0
    level: 5
    channel: security
    on_conflict: local
    env:
      UPLEVEL_TOKEN: "{{ vault_uplevel_token }}"

- name: What would change (dry run, also shows conflicts)
  uplevel.fleet.uplevel_update:
    home: /opt/wso2am-4.2.0
    bundle: /var/tmp/update.bundle
  check_mode: true
  register: plan
"""

RETURN = r"""
changed:
  description: Whether the home changed level (in check mode, whether it would).
  returned: always
  type: bool
level_before:
  description: The home's level before the module ran.
  returned: always
  type: int
  sample: 0
level_after:
  description: The home's level after (in check mode, the level it would reach).
  returned: always
  type: int
  sample: 3
target_level:
  description: The level asked for (the bundle's last level, C(level), or the server's newest).
  returned: always
  type: int
files_changed:
  description: Paths the update adds, replaces, merges or removes (in check mode, would).
  returned: always
  type: list
  elements: str
  sample: [repository/conf/deployment.toml, repository/components/plugins/core_3.0.4.jar]
conflicts:
  description:
    - True conflicts, each with its path, reason, format and the conflicting settings
      (C(setting), C(base), C(local) = the node's value, C(update) = the update's value).
    - With C(on_conflict=stop) outside check mode a non-empty list means the module failed
      and (with C(abort_on_conflict)) aborted the update.
  returned: always
  type: list
  elements: dict
  sample:
    - path: repository/conf/deployment.toml
      reason: changed on both sides
      format: toml
      settings: [{setting: server.offset, base: "0", local: "2", update: "1"}]
      helpers: []
conflict_summary:
  description:
    - "The conflicts in one line, C(path: setting (base B, local L, update U); ...), or empty."
  returned: always
  type: str
  sample: "conf/server.toml: server.threads (base 8, local 32, update 16)"
aborted:
  description: Whether the module ran C(uplevel abort) after the update stopped on conflicts.
  returned: always
  type: bool
summary:
  description: One line for the operator, e.g. C(level 0 -> 3, 3 updates (1 security), 12 files).
  returned: always
  type: str
updates:
  description: The updates applied (level, title, security, fixes, advisories, instructions).
  returned: always
  type: list
  elements: dict
result:
  description: The C(result) object of uplevel's JSON envelope (docs/json-output.md), as is.
  returned: when uplevel ran an update
  type: dict
product:
  description: NAME-VERSION of the home's product.
  returned: always
  type: str
running:
  description: Whether the profile's pid file named a live process when the module started.
  returned: always
  type: bool
profile:
  description:
    - The product profile in effect (C(uplevel profile --json)), with C(start), C(stop),
      C(health_url), C(health_command), C(health_timeout), C(pid_file).
  returned: always
  type: dict
command:
  description: The uplevel command line that ran.
  returned: when uplevel ran an update
  type: list
  elements: str
"""

import json  # noqa: E402
import zipfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.uplevel.fleet.plugins.module_utils.uplevel_cli import (  # noqa: E402
    COMMON_ARGS,
    EXIT_CONFLICTS,
    EXIT_REFUSED,
    conflict_list,
    conflict_text,
    live_pid,
    profile,
    run,
    status,
    wait_stopped,
)

DESCRIPTORS = ("uplevel-bundle.json", "uplevel-signed-bundle.json")
QUIET_ACTIONS = {"keep", "noop"}


def bundle_levels(module, path: str) -> dict:
    """product, channel, from_level and to_level from the bundle's descriptor (both bundle
    forms carry them; docs/bundle-format.md). uplevel verifies everything else at apply."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            for name in DESCRIPTORS:
                if name in names:
                    doc = json.loads(z.read(name))
                    return {k: doc[k] for k in ("product", "channel", "from_level", "to_level")}
    except (OSError, zipfile.BadZipFile, ValueError, KeyError) as e:
        module.fail_json(msg=f"cannot read the bundle {path}: {e}")
    module.fail_json(msg=f"{path} is not an uplevel bundle (no {' or '.join(DESCRIPTORS)})")
    raise AssertionError("fail_json returned")  # pragma: no cover


def summary_line(before: int, after: int, updates: list, files: list, conflicts: list) -> str:
    security = sum(1 for u in updates if u.get("security"))
    line = f"level {before} -> {after}, {len(updates)} update(s) ({security} security), "
    line += f"{len(files)} file(s)"
    if conflicts:
        line += f", {len(conflicts)} conflict(s)"
    return line


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **COMMON_ARGS,
            "level": {"type": "int"},
            "channel": {"type": "str", "choices": ["full", "security"]},
            "bundle": {"type": "path"},
            "server": {"type": "str"},
            "on_conflict": {"type": "str", "choices": ["stop", "new", "local"], "default": "stop"},
            "abort_on_conflict": {"type": "bool", "default": True},
            "force": {"type": "bool", "default": False},
            "token_file": {"type": "path"},
            "ca_bundle": {"type": "path"},
            "wait_stopped": {"type": "int", "default": 0},
        },
        mutually_exclusive=[("bundle", "server")],
        supports_check_mode=True,
    )
    p = module.params
    home = p["home"]
    before = status(module)
    level = before["level"]
    prof = profile(module)
    out = {
        "changed": False,
        "product": before.get("product"),
        "running": live_pid(home, prof.get("pid_file") or "") is not None,
        "profile": prof,
        "level_before": level,
        "level_after": level,
        "target_level": p["level"] if p["level"] is not None else level,
        "files_changed": [],
        "conflicts": [],
        "conflict_summary": "",
        "aborted": False,
        "updates": [],
    }

    if before.get("pending"):
        pending = before["pending"]
        conflicts = conflict_list(pending.get("conflicts"))
        module.fail_json(
            msg=f"{home}: an update from level {pending.get('from_level')} to "
            f"{pending.get('to_level')} is stopped on conflicts ({conflict_text(conflicts)}); "
            "finish it with `uplevel continue` or undo it with `uplevel abort` "
            "(or uplevel_revert) first",
            **{
                **out,
                "conflicts": conflicts,
                "conflict_summary": conflict_text(conflicts),
                "summary": "stopped update pending",
            },
        )
    if p["channel"] and p["channel"] != before.get("channel"):
        module.fail_json(
            msg=f"{home} follows the {before.get('channel')} channel, not {p['channel']}",
            **out,
        )
    if p["server"]:
        followed = before.get("server")  # `uplevel status --json` names the followed server
        if (followed or "").rstrip("/") != p["server"].rstrip("/"):
            module.fail_json(
                msg=f"{home} follows the update server {followed or '(none)'}, not "
                f"{p['server']}; adopt it with `uplevel init --server {p['server']}`",
                **out,
            )

    if p["bundle"]:
        carried = bundle_levels(module, p["bundle"])
        target = carried["to_level"]
        out["target_level"] = target
        if p["level"] is not None and p["level"] != target:
            module.fail_json(
                msg=f"the bundle {p['bundle']} goes to level {target}, not {p['level']}", **out
            )
        if carried["product"] != before.get("product"):
            module.fail_json(
                msg=f"the bundle is for {carried['product']}; {home} is {before.get('product')}",
                **out,
            )
        if level == target:
            module.exit_json(summary=f"already at level {level}", **out)
        if level > target:
            module.fail_json(
                msg=f"{home} is at level {level}, newer than the bundle's level {target}; "
                "use uplevel_revert to go back",
                **out,
            )
        command = ["apply"]
        args = [p["bundle"]]
    else:
        if p["level"] is not None and level == p["level"]:
            module.exit_json(summary=f"already at level {level}", **out)
        if p["level"] is not None and level > p["level"]:
            module.fail_json(
                msg=f"{home} is at level {level}, newer than level {p['level']}; "
                "use uplevel_revert to go back",
                **out,
            )
        command = ["update"]
        args = ["--level", str(p["level"])] if p["level"] is not None else []
        for option in ("token_file", "ca_bundle"):
            if p[option]:
                args += ["--" + option.replace("_", "-"), p[option]]

    args += ["--on-conflict", p["on_conflict"]]
    if p["force"]:
        args.append("--force")
    if module.check_mode:
        args.append("--dry-run")
    elif p["wait_stopped"] > 0 and not p["force"]:
        wait_stopped(module, prof.get("pid_file") or "", p["wait_stopped"])
    env = run(module, command, *args)
    result = env.result
    out["command"] = env.argv
    out["result"] = result

    if env.rc not in (0, EXIT_CONFLICTS):
        if env.rc == EXIT_REFUSED:
            why = "refused: the product is running or another uplevel holds the home (exit 4)"
        else:
            why = f"failed (exit {env.rc}); uplevel says the home is as it was"
        module.fail_json(
            msg=f"uplevel {command[0]} on {home} {why}: {env.error_text()}",
            rc=env.rc,
            error=env.error,
            summary=why,
            **out,
        )
    if result.get("status") == "up-to-date":
        out["target_level"] = result.get("level", level)
        module.exit_json(summary=f"already at level {level} (the newest)", **out)

    to_level = result.get("to_level", level)
    out["target_level"] = to_level
    out["files_changed"] = [
        e["path"] for e in result.get("plan") or [] if e.get("action") not in QUIET_ACTIONS
    ]
    out["conflicts"] = conflict_list(result.get("conflicts"))
    out["conflict_summary"] = conflict_text(out["conflicts"])
    out["updates"] = result.get("updates") or []
    summary = summary_line(level, to_level, out["updates"], out["files_changed"], out["conflicts"])

    if env.rc == EXIT_CONFLICTS:
        # The home is stopped mid-update: only f.original/f.new/f.merge differ. A fleet
        # node must not stay like that, so undo it unless the operator wants to resolve.
        aborted = None
        if p["abort_on_conflict"]:
            aborted = run(module, ["abort"])
            out["aborted"] = aborted.ok
        after = status(module)
        out["level_after"] = after["level"]
        state = (
            "the update was aborted: the home is as it was"
            if out["aborted"]
            else "the update is stopped: resolve and `uplevel continue`, or `uplevel abort`"
            if aborted is None
            else f"`uplevel abort` failed too: {aborted.error_text()}"
        )
        module.fail_json(
            msg=f"{home}: the update to level {to_level} stopped on conflicts: "
            f"{conflict_text(out['conflicts'])}; {state}",
            rc=env.rc,
            summary=summary,
            changed=not out["aborted"],
            **{k: v for k, v in out.items() if k != "changed"},
        )

    out["level_after"] = to_level
    out["changed"] = to_level != level
    module.exit_json(summary=summary, **out)


if __name__ == "__main__":
    main()
