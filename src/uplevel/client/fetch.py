"""The network port: every HTTP request uplevel makes goes through this module.

One `Fetcher` serves python-tuf (it is a `FetcherInterface`) and uplevel's own
downloads (`get`, `download_to`), so the bearer token, proxies, TLS trust and
limits are decided in one place. Its promises:

- Failures are python-tuf download errors and nothing else: `DownloadHTTPError`
  (with the status) for an unwanted HTTP status, `SlowRetrievalError` for a
  timeout, `DownloadLengthMismatchError` when a server sends more than allowed,
  `DownloadError` for everything else (refused connection, TLS, truncation,
  a blob whose bytes are not the ones asked for). The Updater and the CLI then
  handle one error tree.
- A length limit is enforced while reading, never after: at most `limit + 1`
  bytes are read, so a server streaming endless data costs one small buffer.
  A `Content-Length` above the limit is refused before the body is read.
- Every request is bounded in time (FetchConfig): `timeout` for the connect and for
  each wait for the next bytes (a stalled server is not retried), `deadline` for the
  whole request, and `min_rate` bytes/s on average once `rate_window` seconds have
  passed (a server dripping a byte at a time is given up, not waited on for hours).
  A wait longer than `notice_after` is reported through `on_wait` while it lasts.
  Errors say which: connection refused, unreachable, unknown host, timed out, too slow,
  connection reset, each naming the host.
- Redirects are not followed: the token must go only to the configured server,
  and the repository contract (docs/repository.md) serves everything directly.
- The token is sent as `Authorization: Bearer …` and never logged or shown in a
  repr; HTTPS is verified (system trust store, or the configured CA bundle).

It writes nowhere but a `download_to` destination and its `.part` file (and
anonymous temporary files for python-tuf); each of those writes is an fsio step,
so fault injection covers it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import urllib3
from tuf.api.exceptions import (
    DownloadError,
    DownloadHTTPError,
    DownloadLengthMismatchError,
    SlowRetrievalError,
)
from tuf.ngclient.fetcher import FetcherInterface
from urllib3.util import parse_url

from uplevel import __version__
from uplevel.engine import fsio
from uplevel.errors import NotEnoughSpaceError, UsageError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
DEFAULT_DEADLINE = 3600.0
DEFAULT_MIN_RATE = 1024

_DEFAULT_PORTS = {"http": 80, "https": 443}
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class FetchConfig:
    """How to reach a repository. Passed in, never global, so tests and callers can differ.

    `timeout` bounds the connect and every wait for the next bytes, `deadline` one whole
    request (seconds); below `min_rate` bytes/s on average after `rate_window` seconds
    (default: `timeout`) a transfer is given up. `on_wait(host, seconds)` is called every `notice_after` seconds
    of a wait for bytes. `proxies_from_env` reads HTTPS_PROXY/HTTP_PROXY/NO_PROXY (either
    case) when the Fetcher is made. `from_environ` reads the operator's settings.
    """

    token: str | None = field(default=None, repr=False)
    ca_bundle: Path | None = None
    timeout: float = DEFAULT_TIMEOUT
    deadline: float = DEFAULT_DEADLINE
    min_rate: int = DEFAULT_MIN_RATE
    rate_window: float | None = None
    notice_after: float = 10.0
    on_wait: Callable[[str, float], None] | None = field(default=None, repr=False)
    proxies_from_env: bool = True
    chunk_size: int = 1 << 16
    user_agent: str = f"uplevel/{__version__}"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **kwargs: Any) -> FetchConfig:
        """UPLEVEL_TIMEOUT, UPLEVEL_DEADLINE (seconds) and UPLEVEL_MIN_RATE (bytes/s) over
        the defaults; `uplevel --timeout` sets UPLEVEL_TIMEOUT. A bad value is a UsageError."""
        for name, key, kind in (
            ("UPLEVEL_TIMEOUT", "timeout", float),
            ("UPLEVEL_DEADLINE", "deadline", float),
            ("UPLEVEL_MIN_RATE", "min_rate", int),
        ):
            text = environ.get(name, "").strip()
            if not text:
                continue
            try:
                value = kind(text)
            except ValueError:
                value = -1
            if not 0 < value <= 7 * 86400 and not (key == "min_rate" and value == 0):
                raise UsageError(f"{name}={text!r}: expected a positive number")
            kwargs[key] = value
        return cls(**kwargs)


def waiting_on_stderr(host: str, seconds: float) -> None:
    """The default `on_wait`: a line on stderr (stdout stays the command's output)."""
    print(f"uplevel: waiting for {host}: nothing received for {seconds:.0f} s", file=sys.stderr)


@dataclass(frozen=True)
class ProxySettings:
    """Proxy choice from the environment, as curl and most tools read it.

    NO_PROXY is a comma list of host names, domain suffixes (`example.com` and
    `.example.com` both match `a.example.com`), IP literals, optionally `:port`,
    or `*` for everything. CIDR ranges are not understood (they match nothing).
    """

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ProxySettings:
        def read(name: str) -> str | None:
            value = environ.get(name.lower()) or environ.get(name.upper())
            return value.strip() if value and value.strip() else None

        no_proxy = read("no_proxy") or ""
        return cls(
            http=read("http_proxy"),
            https=read("https_proxy"),
            no_proxy=tuple(e.strip() for e in re.split(r"[,\s]+", no_proxy) if e.strip()),
        )

    def proxy_for(self, scheme: str, host: str, port: int | None) -> str | None:
        """The proxy URL to use for this request, or None to connect directly."""
        proxy = self.https if scheme == "https" else self.http if scheme == "http" else None
        if proxy is None or self.bypasses(host, port or _DEFAULT_PORTS.get(scheme)):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    def bypasses(self, host: str, port: int | None) -> bool:
        host = host.strip("[]").lower().rstrip(".")
        for entry in self.no_proxy:
            if entry == "*":
                return True
            name, entry_port = _split_no_proxy_entry(entry)
            if not name or (entry_port is not None and entry_port != port):
                continue
            if host == name or host.endswith("." + name):
                return True
        return False


def _split_no_proxy_entry(entry: str) -> tuple[str, int | None]:
    entry = entry.lower()
    port: int | None = None
    if entry.startswith("["):  # [v6]:port
        name, _, rest = entry[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
    elif entry.count(":") == 1:  # host:port (a bare IPv6 literal has more colons)
        name, _, port_text = entry.partition(":")
        if not port_text.isdigit():
            return "", None
        port = int(port_text)
    else:
        name = entry
    return name.lstrip("*").lstrip(".").rstrip("."), port


class Fetcher(FetcherInterface):
    """urllib3-based fetcher for TUF metadata, targets and blobs (see the module docstring)."""

    def __init__(
        self, config: FetchConfig | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self.config = config or FetchConfig()
        if self.config.proxies_from_env:
            self._proxies = ProxySettings.from_environ(os.environ if environ is None else environ)
        else:
            self._proxies = ProxySettings()
        self._pools: dict[str | None, urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    # --- python-tuf's port ------------------------------------------------------------

    def _fetch(self, url: str) -> Iterator[bytes]:
        """Unbounded stream, for FetcherInterface.fetch(); python-tuf itself uses download_file."""
        return self._stream(url, limit=None)

    @contextlib.contextmanager
    def download_file(self, url: str, max_length: int) -> Iterator[IO[bytes]]:
        """Like FetcherInterface.download_file, but the limit is enforced while reading."""
        with tempfile.TemporaryFile() as spool:
            for chunk in self._stream(url, limit=max_length):
                spool.write(chunk)
            spool.seek(0)
            yield spool

    # --- uplevel's own downloads ----------------------------------------------------

    def get(self, url: str, *, max_length: int, headers: Mapping[str, str] | None = None) -> bytes:
        """GET a small document whole (at most max_length bytes, else refused)."""
        return b"".join(self._stream(url, limit=max_length, headers=headers))

    def download_to(
        self,
        url: str,
        dest_path: Path,
        *,
        expected_sha256: str,
        expected_size: int,
        resume: bool = True,
        mode: int = 0o644,
    ) -> None:
        """Download a blob to dest_path; it appears there only whole and verified.

        Bytes go to `dest_path.part` first; after an interrupted attempt the next
        one asks for the rest with a Range request (a server that ignores Range
        just restarts the file). A truncated transfer keeps the part for the next
        try; a wrong size or sha256 deletes the part (its prefix cannot be
        trusted) and raises. The part is fsynced, renamed, and the directory
        fsynced, as fsio does for every durable file.
        """
        part = dest_path.with_name(dest_path.name + ".part")
        offset = 0
        digest = hashlib.sha256()
        if resume and part.is_file() and not part.is_symlink():
            offset = part.stat().st_size
            if offset > expected_size:
                _discard(part)
                offset = 0
            else:
                with open(part, "rb") as existing:
                    while block := existing.read(fsio.CHUNK):
                        digest.update(block)
        elif os.path.lexists(part):
            _discard(part)

        if offset < expected_size:
            offset, digest = self._fill_part(url, part, offset, digest, expected_size, mode)
        if offset != expected_size:
            raise DownloadError(f"{url}: got {offset} of {expected_size} bytes (kept for resume)")
        if digest.hexdigest() != expected_sha256.lower():
            _discard(part)
            raise DownloadError(f"{url}: content does not match its sha256 {expected_sha256}")
        if not os.path.lexists(part):  # an empty blob: nothing was requested or written
            fsio.write_new(part, [], mode=mode)
        fsio.replace(part, dest_path)
        fsio.fsync_dir(dest_path.parent)

    def close(self) -> None:
        """Close pooled connections (also done by garbage collection)."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.clear()

    # --- internals ------------------------------------------------------------------

    def _fill_part(
        self,
        url: str,
        part: Path,
        offset: int,
        digest: hashlib._Hash,
        expected_size: int,
        mode: int,
    ) -> tuple[int, hashlib._Hash]:
        """Request the missing bytes and append them to the part; returns its new size and hash."""
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        response = self._open(url, headers=headers, accept=(200, 206) if offset else (200,))
        try:
            if response.status == 206:
                if not _range_starts_at(response, offset, expected_size):
                    _discard(part)
                    raise DownloadError(f"{url}: the server answered another range than asked")
            elif offset:  # 200 to a Range request: the whole file comes again
                offset, digest = 0, hashlib.sha256()
            try:
                _check_declared_length(response, url, expected_size - offset)
            except DownloadLengthMismatchError:
                _discard(part)
                raise
            fd = _open_part(part, append=offset > 0)
        except BaseException:
            response.close()
            raise
        body = self._body(response, url, limit=expected_size - offset)
        try:
            for chunk in body:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                digest.update(chunk)
                offset += len(chunk)
            os.fchmod(fd, mode)
        except DownloadLengthMismatchError:
            os.close(fd)
            _discard(part)
            raise
        except OSError as exc:  # local: the generator is suspended at a yield, close() ends it
            body.close()
            os.close(fd)
            raise _local_error(exc, part) from exc
        except BaseException:
            fsio.sync_fd(fd)  # keep what arrived: the next attempt resumes from it
            os.close(fd)
            raise
        fsio.sync_fd(fd)
        os.close(fd)
        return offset, digest

    def _stream(
        self, url: str, *, limit: int | None, headers: Mapping[str, str] | None = None
    ) -> Iterator[bytes]:
        response = self._open(url, headers=headers, accept=(200,))
        if limit is not None:
            _check_declared_length(response, url, limit)
        return self._body(response, url, limit=limit)

    def _open(
        self, url: str, *, headers: Mapping[str, str] | None, accept: tuple[int, ...]
    ) -> urllib3.BaseHTTPResponse:
        """Send the request and check the status; the body is left unread."""
        request_headers = dict(headers or {})
        if self.config.token:
            request_headers["Authorization"] = f"Bearer {self.config.token}"
        logger.debug("GET %s", url)
        try:
            with self._watch(url):
                response = self._pool_for(url).request(
                    "GET",
                    url,
                    headers=request_headers,
                    preload_content=False,
                    redirect=False,
                    # Connection failures are retried (a restarting server), a server
                    # that stalls is not: that would multiply the wait.
                    retries=urllib3.Retry(
                        total=2, connect=2, read=0, redirect=False, raise_on_status=False
                    ),
                    timeout=urllib3.Timeout(connect=self.config.timeout, read=self.config.timeout),
                )
        except DownloadError:
            raise
        except Exception as exc:
            raise self._failure(url, exc) from exc
        if response.status not in accept:
            response.close()
            raise DownloadHTTPError(f"{url}: HTTP status {response.status}", response.status)
        return response

    def _body(
        self, response: urllib3.BaseHTTPResponse, url: str, *, limit: int | None
    ) -> Generator[bytes, None, None]:
        """Yield the body; read at most limit + 1 bytes so endless data is cut off early,
        and give up past the deadline or below the minimum rate."""
        received = 0
        complete = False
        started = time.monotonic()
        cfg = self.config
        try:
            with self._watch(url) as arrived:
                while True:
                    want = cfg.chunk_size
                    if limit is not None:
                        want = min(want, limit - received + 1)
                    # read1: return what has arrived, so bytes before a dropped
                    # connection still reach the caller (and a .part file for resume).
                    chunk = response.read1(want)
                    if not chunk:
                        break
                    arrived()
                    received += len(chunk)
                    if limit is not None and received > limit:
                        raise DownloadLengthMismatchError(
                            f"{url}: more than the {limit} bytes allowed"
                        )
                    elapsed = time.monotonic() - started
                    if elapsed > cfg.deadline:
                        raise SlowRetrievalError(
                            f"{url}: {host_of(url)} did not finish within the {cfg.deadline:g} s "
                            f"deadline ({received} bytes received)"
                        )
                    window = cfg.timeout if cfg.rate_window is None else cfg.rate_window
                    if elapsed > window and received / elapsed < cfg.min_rate:
                        raise SlowRetrievalError(
                            f"{url}: {host_of(url)} is too slow: {received / elapsed:.0f} bytes/s "
                            f"over {elapsed:.0f} s, below the minimum of {cfg.min_rate} bytes/s"
                        )
                    yield chunk
            complete = True
        except DownloadError:
            raise
        except Exception as exc:
            raise self._failure(url, exc, received) from exc
        finally:
            # A connection with unread bytes must not go back to the pool.
            if complete:
                response.release_conn()
            else:
                response.close()

    def _failure(self, url: str, exc: Exception, received: int | None = None) -> DownloadError:
        """What went wrong, in the operator's words, naming the host."""
        host = host_of(url)
        after = f" after {received} bytes" if received else ""
        reason: BaseException = exc
        if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
            reason = exc.reason
        if isinstance(reason, urllib3.exceptions.ProxyError) and reason.original_error:
            reason = reason.original_error
        errnos = {getattr(e, "errno", None) for e in _chain(reason)}
        # NewConnectionError is a ConnectTimeoutError subclass: look at it first, or a
        # refused connection reads as "timed out".
        if isinstance(reason, urllib3.exceptions.NameResolutionError):
            return DownloadError(f"{url}: unknown host {host} (name resolution failed)")
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            if errno.ECONNREFUSED in errnos:
                return DownloadError(f"{url}: connection refused by {host} (nothing listens)")
            if errnos & {errno.ENETUNREACH, errno.EHOSTUNREACH}:
                return DownloadError(f"{url}: {host} is unreachable (no route)")
            return DownloadError(f"{url}: cannot connect to {host}: {reason.__cause__ or reason}")
        if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
            return SlowRetrievalError(
                f"{url}: connecting to {host} timed out after {self.config.timeout:g} s"
            )
        if isinstance(reason, (urllib3.exceptions.TimeoutError, TimeoutError)):
            return SlowRetrievalError(
                f"{url}: {host} sent nothing for {self.config.timeout:g} s{after} (timed out)"
            )
        if errnos & {errno.ECONNRESET, errno.EPIPE}:
            return DownloadError(f"{url}: {host} reset the connection{after}")
        if received is not None:
            return DownloadError(f"{url}: transfer from {host} failed{after}: {reason}")
        return DownloadError(f"{url}: {host}: {reason}")

    @contextlib.contextmanager
    def _watch(self, url: str) -> Iterator[Callable[[], None]]:
        """Report a wait for bytes while it lasts, every `notice_after` seconds; the caller
        calls the yielded function whenever bytes arrive. One thread per request."""
        on_wait, every = self.config.on_wait, self.config.notice_after
        if on_wait is None:
            yield lambda: None
            return
        last = [time.monotonic()]
        done = threading.Event()

        def tick() -> None:
            reported = 0.0
            while not done.wait(min(1.0, every)):
                idle = time.monotonic() - last[0]
                if idle < reported:  # bytes came since the last report
                    reported = 0.0
                if idle - reported >= every:
                    reported = idle
                    on_wait(host_of(url), idle)

        def touch() -> None:
            last[0] = time.monotonic()

        watcher = threading.Thread(target=tick, name=f"wait {host_of(url)}", daemon=True)
        watcher.start()
        try:
            yield touch
        finally:
            done.set()

    def _pool_for(self, url: str) -> urllib3.PoolManager:
        parsed = parse_url(url)
        scheme = (parsed.scheme or "").lower()
        if scheme not in _DEFAULT_PORTS or not parsed.host:
            raise DownloadError(f"{url}: only http and https URLs can be fetched")
        proxy = self._proxies.proxy_for(scheme, parsed.host, parsed.port)
        with self._lock:
            pool = self._pools.get(proxy)
            if pool is None:
                pool = self._pools[proxy] = self._new_pool(proxy)
        return pool

    def _new_pool(self, proxy: str | None) -> urllib3.PoolManager:
        ca_certs = None if self.config.ca_bundle is None else str(self.config.ca_bundle)
        headers = {"User-Agent": self.config.user_agent}
        if proxy is None:
            return urllib3.PoolManager(
                headers=headers, cert_reqs="CERT_REQUIRED", ca_certs=ca_certs
            )
        proxy_auth = parse_url(proxy).auth
        proxy_headers = urllib3.make_headers(proxy_basic_auth=proxy_auth) if proxy_auth else None
        return urllib3.ProxyManager(
            proxy,
            headers=headers,
            proxy_headers=proxy_headers,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
        )


def host_of(url: str) -> str:
    """host:port of a URL, as errors name it."""
    parsed = parse_url(url)
    port = parsed.port or _DEFAULT_PORTS.get((parsed.scheme or "").lower())
    return f"{parsed.host}:{port}" if port else str(parsed.host)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """An exception and its causes and contexts (the errno is often a few levels down)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))


def _range_starts_at(response: urllib3.BaseHTTPResponse, offset: int, size: int) -> bool:
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
    return (
        match is not None and int(match[1]) == offset and (match[3] == "*" or int(match[3]) == size)
    )


def _open_part(part: Path, *, append: bool) -> int:
    """Open the .part file as one fsio step (fault injection sees it); never via a symlink."""
    fsio.step(f"{'append' if append else 'create'} {part}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
    try:
        return os.open(part, flags, 0o600)
    except OSError as exc:
        raise _local_error(exc, part) from exc


def _discard(part: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        fsio.unlink(part)


def _local_error(exc: OSError, path: Path) -> Exception:
    """Disk full is the operator's to fix; it gets the project's error with a hint."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NotEnoughSpaceError(
            f"no space left while writing {path}", hint="free disk space and run the command again"
        )
    return exc


def _check_declared_length(response: urllib3.BaseHTTPResponse, url: str, limit: int) -> None:
    """Refuse before reading when the server itself says the body is too long."""
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        response.close()
        raise DownloadLengthMismatchError(
            f"{url}: the server announces {declared} bytes, more than the {limit} allowed"
        )
