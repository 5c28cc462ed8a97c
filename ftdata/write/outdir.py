"""The output folder of a build: complete or absent, never half-written.

A build writes into a hidden temporary folder beside the target, holding an exclusive lock
(``flock``) on ``.<name>.lock`` so two builds cannot write the same output. On success
``COMPLETED`` is written into the folder, which is then renamed into place (the previous
output, if any, is first renamed aside to ``.<name>.old-*`` and deleted afterwards); on failure
the folder is removed. Only a folder an earlier build wrote
(:func:`ftdata.write.writer.is_output`) is ever replaced.

A build killed with SIGKILL at any point leaves either a complete build at the target (the old
one or the new one), or no target and the old build aside in ``.<name>.old-*`` (for the instant
between the two renames): the next build, and ``ftdata verify``, put it back
(:func:`recover`). Hidden folders that are not needed are deleted, their ``COMPLETED`` first,
so a half-deleted folder never looks complete.

This module owns that folder's lifecycle (:class:`OutputDir`: lock, recovery, commit, abort)
and the error a build shows when a write fails for lack of room (:func:`no_space_error`); the
files inside the folder are written by :mod:`ftdata.write.writer`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import time
import uuid
from pathlib import Path

from ..constants import COMPLETED
from ..errors import BuildError
from .writer import is_output, not_replaceable


def _hidden(target: Path, kind: str) -> list[Path]:
    """The hidden folders of ``kind`` (``tmp``: being built, ``old``: set aside) beside ``target``."""
    return sorted(p for p in target.parent.glob(f".{target.name}.{kind}-*") if p.is_dir())


def _discard(folder: Path) -> None:
    """Delete a hidden folder, its ``COMPLETED`` first: cut short by a kill, it never looks complete."""
    try:
        os.unlink(folder / COMPLETED)
    except OSError:
        pass
    shutil.rmtree(folder, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (where the file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def recover(target: Path, tidy: bool = True) -> Path | None:
    """Repair what killed builds left beside ``target``; the caller holds the output's lock.

    When the target holds no complete build but a complete one lies aside (``.<name>.old-*``: a
    build was killed between renaming the old output aside and renaming the new one in), the
    old one is put back. With ``tidy``, the hidden folders of killed builds are then deleted,
    except a complete one set aside while the target is not complete (a folder that is not an
    ftdata output now stands there; it is left alone and so is that build).

    Returns:
        The folder the previous build was put back from, or None.
    """
    restored = None
    if not (target / COMPLETED).exists():
        olds = [p for p in _hidden(target, "old") if (p / COMPLETED).exists()]
        if olds and (not target.exists() or is_output(target)):
            good = max(olds, key=lambda p: p.stat().st_mtime)  # one, unless an older version left more
            if target.exists():  # an incomplete output (left by an older version): deleted below
                os.rename(target, target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}")
            os.rename(good, target)
            _fsync_dir(target.parent)
            restored = good
    if tidy:
        keep = not (target / COMPLETED).exists()
        for p in _hidden(target, "tmp") + [p for p in _hidden(target, "old")
                                           if not (keep and (p / COMPLETED).exists())]:
            _discard(p)
    return restored


def restore_previous(target: str | Path) -> Path | None:
    """For readers (``ftdata verify``): put back the previous build a killed build left aside.

    See :func:`recover`; nothing is deleted here, and nothing is done while a build of
    ``target`` holds its lock (what lies aside is then that build's) or where no build ever
    took it.

    Returns:
        The folder the previous build was put back from, or None.
    """
    target = Path(target).resolve()
    lock = target.parent / f".{target.name}.lock"
    if (target / COMPLETED).exists() or not lock.is_file():
        return None
    try:
        fh = open(lock, "a+")  # noqa: SIM115 - closed below
    except OSError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        try:
            return recover(target, tidy=False)
        except OSError:  # a folder this reader may not change: the check reports what it finds
            return None
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class OutputDir:
    """A temporary build folder that becomes ``target`` on :meth:`commit`.

    Only a folder an earlier build wrote (:func:`is_output`), or an empty one, is replaced: an
    ordinary folder or a file at ``target`` is refused, ``overwrite`` or not.
    """

    def __init__(self, target: Path, overwrite: bool = False):
        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.target.parent / f".{self.target.name}.lock"
        self._lock_fh = open(self._lock_path, "a+")  # noqa: SIM115 - held until commit/abort
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_fh.close()
            raise BuildError(f"another build is writing {self.target} right now; try again when it ends") from None
        try:
            # safe: we hold the lock, so no live build of this target owns the hidden folders
            recover(self.target)
            self._check_replaceable()
        except BaseException:
            self._release()
            raise
        if self.target.exists():
            stale = not (self.target / COMPLETED).exists() and is_output(self.target)
            if not overwrite and not stale:
                self._release()
                raise BuildError(f"output {self.target} already exists; pass --overwrite to replace it")
        self.tmp = self.target.parent / f".{self.target.name}.tmp-{uuid.uuid4().hex[:12]}"
        self.started = time.time()  # files of this build in a shared folder (the cache) are newer
        self.free_at_start = _free(self.target.parent)  # for the error on a full disk
        try:
            self.tmp.mkdir()
        except BaseException as exc:
            full = no_space_error(exc, self)
            self._release()
            if full is not None:
                raise full from exc
            raise

    def _check_replaceable(self) -> None:
        """Raise unless ``target`` is absent, an empty folder, or a folder an earlier build wrote."""
        what = not_replaceable(self.target)
        if what:
            raise BuildError(f"output {self.target} is {what}: a build replaces only a folder "
                             "an earlier build wrote, so that nothing else is ever deleted; choose "
                             "another output folder (-o, or output: in the recipe) or move it away "
                             "yourself")

    def _release(self) -> None:
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
        finally:
            self._lock_fh.close()

    def commit(self) -> None:
        """Mark the finished folder complete, then move it into place.

        One filesystem operation at a time; a kill after any of them leaves a complete build at
        the target or one that :func:`recover` puts back: (1) ``COMPLETED`` is written and
        fsynced inside the hidden folder, complete before it has its name; (2) the previous
        output, if any, is renamed aside to ``.<name>.old-*``; (3) the new folder is renamed to
        the target (on an error the old one is renamed back); (4) the parent folder is fsynced,
        so both renames last; (5) the old folder is deleted, its ``COMPLETED`` first.
        """
        self._check_replaceable()  # nothing else appeared at the target while we built
        fd = os.open(self.tmp / COMPLETED, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            os.write(fd, b"ok\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        old = None
        if self.target.exists() or self.target.is_symlink():
            old = self.target.parent / f".{self.target.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(self.target, old)
        try:
            os.rename(self.tmp, self.target)
        except BaseException:
            if old is not None:
                os.rename(old, self.target)
            raise
        _fsync_dir(self.target.parent)
        if old is not None:
            _discard(old)
        self._release()

    def abort(self) -> None:
        _discard(self.tmp)
        self._release()


#: errno of a write that failed for lack of room: a full disk, a file-size limit, a full quota
NO_SPACE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n:,} bytes ({n / scale:.1f} {unit})"
    return f"{n:,} bytes"


def _written(folder: Path | None, since: float = 0.0) -> int:
    """Bytes in the files under ``folder`` last written at ``since`` or later (vanished files skipped)."""
    total = 0
    for root, _, names in os.walk(folder) if folder is not None else ():
        for name in names:
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            if st.st_mtime >= since:
                total += st.st_size
    return total


def no_space_error(exc: BaseException, out: OutputDir, cache_dir: Path | None = None) -> BuildError | None:
    """The error to show for a write that failed for lack of room (None for any other error).

    It says what ran out (the disk or quota, or the file-size limit: ``ulimit -f``), where (the
    folders this build writes: its temporary folder and the chunk cache), and how much room
    the build needed: on a full disk, more than was free when it started (the previous build's
    size besides, as that is kept until the new one is complete); under a file-size limit, a
    file larger than the limit. It also says what the build had written when the write failed:
    call it before :meth:`OutputDir.abort` deletes the temporary folder it measures.

    Python ignores SIGXFSZ, so a file-size limit makes the write fail with EFBIG instead of
    killing the process; a program that embeds ftdata and restores SIGXFSZ is killed instead.
    """
    if not isinstance(exc, OSError) or exc.errno not in NO_SPACE:
        return None
    ours = _written(out.tmp)
    cached = _written(cache_dir, out.started - 1.0)  # margin: the file system's clock may lag ours
    where = f"{_size(ours)} in {out.tmp}" + (f" and {_size(cached)} in the chunk cache {cache_dir}"
                                            if cache_dir is not None else "")
    if exc.filename:
        where += f" (the write that failed: {exc.filename})"
    previous = out.target / COMPLETED
    kept = (f"The previous build at {out.target} is unchanged" if previous.exists()
            else f"Nothing was written to {out.target}") + "; nothing of this build was kept."
    reason = f"[Errno {exc.errno}] {os.strerror(exc.errno)}"
    if exc.errno == errno.EFBIG:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        limit = f"{soft:,} bytes" if soft != resource.RLIM_INFINITY else "the largest file the file system holds"
        return BuildError(
            f"a file of the build of {out.target} reached the file-size limit ({reason}): no file may grow "
            f"past {limit} (ulimit -f), and this build needs a larger one; it had written {where}. Raise "
            f"the limit (ulimit -f unlimited), or write smaller files (shard_size: rows per shard; "
            f"batch_size: rows per chunk). {kept}")
    old = _written(out.target) if previous.exists() else 0
    if exc.errno == errno.ENOSPC:
        room = (f"{_size(out.free_at_start)} were free on the file system of {out.target.parent} when the "
                f"build started, and it needs more than that")
    else:  # EDQUOT: the quota, not the disk, is full
        room = f"the build needs more than the quota leaves on the file system of {out.target.parent}"
    if old:
        room += f" (the previous build, {_size(old)}, stays until the new one is complete: both must fit)"
    if cache_dir is not None and cache_dir.is_dir() and _dev(cache_dir) != _dev(out.target.parent):
        room += f"; the chunk cache is on another file system, with {_size(_free(cache_dir))} free now"
    return BuildError(f"no room left to write the build of {out.target} ({reason}): {room}; it had written "
                      f"{where} when a write failed. Free some space, or build elsewhere (-o). {kept}")


def _free(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _dev(folder: Path) -> int | None:
    try:
        return os.stat(folder).st_dev
    except OSError:
        return None
