"""Derive level 1 from level 0: the kind of change set a WSO2 update really ships.

Why these particular edits: a WSO2 update replaces rebuilt bundles under a new versioned
name (so the old jar is removed and a new one added, and bundles.info follows), patches a
few jars in place, touches webapp files and their wars, edits configuration text, and now
and then adds, removes or re-modes a file. Each of those exercises a different path of the
in-place engine (remove+add, replace, merge, chmod).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import texts
from homeshape import T0, Entry, Home, Literal, Rand, Source

T1 = T0 + 90 * 86_400  # mtime of everything the update writes: rsync must see it changed


@dataclass(slots=True)
class Change:
    """Paths the update adds, modifies, removes or re-modes (modes: content unchanged)."""

    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    mode: list[str] = field(default_factory=list)


class Planner:
    """Applies the update to a copy of the level-0 entry map."""

    def __init__(self, home: Home, seed: int, scale: float) -> None:
        self.rng = random.Random(seed * 1_000_003 + 1)
        self.scale = scale
        self.home = home
        self.tree: dict[str, Entry] = {e.path: e for e in home.entries}
        self.change = Change()

    def n(self, count: int) -> int:
        return max(1, round(count * self.scale))

    def put(self, entry: Entry) -> None:
        entry = replace(entry, mtime=T1)
        done = self.change.modified + self.change.added
        if entry.path not in done:  # a file edited twice is still one modified file
            (self.change.modified if entry.path in self.tree else self.change.added).append(
                entry.path
            )
        self.tree[entry.path] = entry

    def drop(self, path: str) -> None:
        del self.tree[path]
        self.change.removed.append(path)

    def size(self, path: str) -> int:
        content = self.tree[path].content
        return content.size if content else 0

    def text(self, path: str) -> str:
        content = self.tree[path].content
        assert isinstance(content, Literal), path
        return content.data.decode()

    def new_bytes(self, old: Entry, grow: float = 0.05) -> Rand:
        size = old.content.size if old.content else 1024
        return Rand(
            self.rng.getrandbits(62), max(1, int(size * self.rng.uniform(1 - grow, 1 + grow)))
        )

    def edit_text(self, path: str, old: str, new: str) -> None:
        data = self.text(path)
        assert old in data, (path, old)
        self.put(replace(self.tree[path], content=Literal(data.replace(old, new, 1).encode())))

    def plan(self) -> tuple[list[Entry], Change]:
        self.jars()
        self.config()
        self.webapps()
        self.extras()
        return sorted(self.tree.values(), key=lambda e: e.path), self.change

    def jars(self) -> None:
        plugdir = "repository/components/plugins"
        own = [(n, v) for n, v in self.home.plugins if n.startswith("org.wso2.carbon.")]
        # Updates hit the big WSO2 bundles (impl, gateway, rest api), not tiny orbit jars.
        own.sort(key=lambda nv: -self.size(f"{plugdir}/{nv[0]}_{nv[1]}.jar"))
        chosen = self.rng.sample(own[: max(1, len(own) * 2 // 5)], self.n(60))
        bumped = dict(self.home.plugins)
        for name, version in chosen:
            old = self.tree[f"{plugdir}/{name}_{version}.jar"]
            self.drop(old.path)
            bumped[name] = texts.bump_version(version)
            self.put(Entry(f"{plugdir}/{name}_{bumped[name]}.jar", content=self.new_bytes(old)))
        untouched = [f"{plugdir}/{n}_{v}.jar" for n, v in self.home.plugins if (n, v) not in chosen]
        libs = sorted(p for p in self.tree if p.startswith("lib/") and p.endswith(".jar"))
        for path in self.rng.sample(untouched, self.n(6)) + self.rng.sample(libs, self.n(4)):
            self.put(replace(self.tree[path], content=self.new_bytes(self.tree[path])))
        info = (
            "repository/components/default/configuration/"
            "org.eclipse.equinox.simpleconfigurator/bundles.info"
        )
        self.put(
            replace(
                self.tree[info], content=Literal(texts.bundles_info(list(bumped.items())).encode())
            )
        )

    def config(self) -> None:
        toml = "repository/conf/deployment.toml"
        self.edit_text(toml, 'expiry_time = "900s"', 'expiry_time = "1800s"')
        self.edit_text(
            toml,
            "[apim.oauth_config]",
            (
                '[apim.token.revocation]\nnotifier_impl = "org.wso2.carbon.apimgt.notification.'
                'TokenRevocationNotifierImpl"\nenable_realtime_notifier = true\n\n'
                "[apim.oauth_config]"
            ),
        )
        log4j = "repository/conf/log4j2.properties"
        self.edit_text(log4j, "loggers = ", "loggers = correlation, ")
        self.edit_text(
            log4j,
            "rootLogger.level",
            (
                "logger.correlation.name = correlation\nlogger.correlation.level = INFO\n"
                "logger.correlation.additivity = false\n\nrootLogger.level"
            ),
        )
        conf = ("repository/conf/", "repository/resources/conf/")
        xmls = sorted(p for p in self.tree if p.startswith(conf) and p.endswith((".xml", ".j2")))
        for path in self.rng.sample(xmls, self.n(6)):
            lines = self.text(path).splitlines(keepends=True)
            at = self.rng.randrange(6, len(lines) - 1)
            self.edit_text(
                path, "".join(lines[at : at + 1]), lines[at].replace(">", ' update="1">', 1)
            )

    def webapps(self) -> None:
        base = "repository/deployment/server/webapps"
        chosen = [
            w
            for w in ("api#am#publisher", "api#am#devportal", "authenticationendpoint")
            if w in self.home.webapps
        ] or self.home.webapps[:1]
        files = sorted(
            p
            for p in self.tree
            if any(p.startswith(f"{base}/{w}/") for w in chosen)
            and "/WEB-INF/lib/" not in p
            and not p.endswith((".xml", ".MF"))
        )
        for path in self.rng.sample(files, min(len(files), self.n(100))):
            old = self.tree[path]
            if isinstance(old.content, Source):
                self.put(replace(old, content=replace(old.content, rev=1)))
            else:
                self.put(replace(old, content=self.new_bytes(old, grow=0.1)))
        for w in chosen:
            self.put(
                replace(
                    self.tree[f"{base}/{w}.war"],
                    content=self.new_bytes(self.tree[f"{base}/{w}.war"]),
                )
            )
        leftovers = [p for p in files if p not in self.change.modified]
        for path in self.rng.sample(leftovers, min(len(leftovers), self.n(4))):
            self.drop(path)
        for i in range(self.n(3)):
            path = f"{base}/{chosen[0]}/site/public/dist/chunk-update1-{i}.js"
            self.put(Entry(path, content=Source(self.rng.getrandbits(62), 20_000, "js")))

    def extras(self) -> None:
        self.put(
            Entry(
                "lib/org.wso2.carbon.apimgt.token.revocation-9.28.117.jar",
                content=Rand(self.rng.getrandbits(62), 180_000),
            )
        )
        self.put(
            Entry(
                "repository/conf/security/token-revocation.xml",
                content=Literal(b'<?xml version="1.0"?>\n<TokenRevocation enabled="true"/>\n'),
            )
        )
        self.drop(
            self.rng.choice(
                sorted(p for p in self.tree if p.startswith("repository/conf/security/policy-"))
            )
        )
        script = self.tree["bin/profileSetup.sh"]
        self.tree[script.path] = replace(script, mode=0o755)
        self.change.mode.append(script.path)


def plan_level1(home: Home, seed: int, scale: float) -> tuple[list[Entry], Change]:
    """Level-1 entries (sorted by path) and what changed relative to level 0."""
    return Planner(home, seed, scale).plan()
