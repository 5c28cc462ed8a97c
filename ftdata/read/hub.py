"""Reaching the Hugging Face Hub: one quick probe, and Hub datasets that fail fast offline.

Hub downloads on a machine without network retry for a minute or more before they fail, so
every Hub read (a tokenizer name, a ``hub:`` source) asks :func:`hub_unreachable` first and,
offline, looks in the local Hugging Face cache only.
"""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import BuildError

#: Seconds the Hub has to accept a connection before this machine is taken to be offline.
HUB_PROBE_TIMEOUT = 3.0


def hub_unreachable(timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """Why the Hugging Face Hub cannot be reached from here, or None when it takes a connection.

    Offline mode (``HF_HUB_OFFLINE``) answers at once; otherwise one TCP connect to the Hub's
    endpoint (``HF_ENDPOINT``), or to the proxy the environment names for it. Without this, a
    download on an offline machine retries for about a minute before it fails. The connect
    runs on a daemon thread that is given up after ``timeout``: a name lookup has no timeout.
    """
    import socket
    import threading
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    url = urlsplit(constants.ENDPOINT)
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    proxy = getproxies().get(url.scheme)
    if proxy and host and not proxy_bypass(host):
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = p.hostname, p.port or (443 if p.scheme == "https" else 80)
    where = f"{host}:{port}" + (" (the proxy)" if proxy and url.hostname != host else "")
    outcome: list[str | None] = []  # the connect's error, or None when it connected

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"{exc.strerror or exc}")

    t = threading.Thread(target=connect, name="ftdata-hub-probe", daemon=True)
    t.start()
    t.join(timeout)
    if not outcome:
        return f"{where} did not answer within {timeout:g} s"
    return outcome[0] and f"cannot connect to {where}: {outcome[0]}"


@contextmanager
def _offline_mode():
    """Offline mode for the calls inside: both libraries read HF_HUB_OFFLINE once, at import.

    Only entered when the Hub is unreachable anyway, so other threads lose nothing by it.
    """
    import datasets.config
    from huggingface_hub import constants

    saved = datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE = saved


def _why_offline() -> str | None:
    """Why Hub datasets cannot be downloaded now, or None (datasets has an offline switch of its own)."""
    import datasets.config

    return hub_unreachable() or ("HF_DATASETS_OFFLINE is set" if datasets.config.HF_HUB_OFFLINE else None)


def load_hub_dataset(spec, where: str):
    """Open the Hub dataset a ``hub:`` source names, as an iterable of row dicts.

    With the Hub reachable the dataset is streamed. Without it, only the local Hugging Face
    datasets cache is tried (a copy an earlier, non-streaming ``load_dataset`` prepared), so an
    offline machine gets an answer in seconds, not after a minute of retries.

    Args:
        spec: the source's ``hub`` block (path, name, split, revision).
        where: where the source is, for messages (a YAML path and the source's name).

    Raises:
        BuildError: the dataset cannot be opened; offline, the message names the ways out.
    """
    import datasets

    offline = _why_offline()
    if offline:
        return _load_cached(spec, where, offline)
    try:
        return datasets.load_dataset(spec.path, spec.name, split=spec.split, revision=spec.revision, streaming=True)
    except Exception as exc:  # noqa: BLE001
        raise BuildError(f"{where}: cannot load hub dataset '{spec.path}': {exc}") from None


def hub_source_problem(spec, where: str) -> str | None:
    """What stops a ``hub:`` source from being read here, found without downloading anything.

    Online, nothing is checked (that would mean a download); offline, the source must be in the
    local datasets cache. Used by recipe checks, so ``ftdata validate`` fails as fast as a build.
    """
    offline = _why_offline()
    if not offline:
        return None
    try:
        _load_cached(spec, where, offline)
    except BuildError as exc:
        return str(exc)
    return None


def _load_cached(spec, where: str, offline: str):
    """The source's dataset from the local datasets cache only; ``offline`` says why."""
    import datasets

    try:
        with _offline_mode():
            return datasets.load_dataset(spec.path, spec.name, split=spec.split, revision=spec.revision)
    except ConnectionError:  # what datasets raises offline when its cache has no copy
        raise BuildError(
            f"{where}: cannot load hub dataset '{spec.path}': the Hugging Face datasets cache "
            f"({datasets.config.HF_DATASETS_CACHE}) has no copy of it and the Hub cannot be reached: "
            f"{offline}. Download it on a machine with network (e.g. datasets.load_dataset(...).to_json(...)) "
            f"and point 'path:' at the local files instead of 'hub:', or rerun with network access") from None
    except Exception as exc:  # noqa: BLE001
        raise BuildError(f"{where}: cannot load hub dataset '{spec.path}' from the Hugging Face datasets cache "
                         f"(the Hub cannot be reached: {offline}): {exc}") from None
