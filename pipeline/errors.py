"""The one exception hierarchy of mailroom.

Every error that reaches a person derives from MailroomError; its message
says what failed and what to do next. Third-party errors are translated
where they enter our code.
"""

import errno


class MailroomError(Exception):
    """Base class for every error mailroom raises on purpose.

    `transient` is True for a failure of the machine, not of the input (a full disk,
    an index that cannot be reached or is locked): the work is retried later and
    never recorded as the message's own fault.
    """

    transient = False


class ConfigError(MailroomError):
    """The configuration file is missing, unreadable or holds a bad value."""

    def __init__(self, file: str, key: str, problem: str):
        self.file, self.key, self.problem = file, key, problem
        super().__init__(f"{file}: {key}: {problem}")


class ParseError(MailroomError):
    """A message could not be parsed at all."""


class ExternalProgramError(MailroomError):
    """An external program failed, timed out or is missing."""

    def __init__(self, cmd: list[str], problem: str, stderr: str = ""):
        self.cmd, self.problem, self.stderr = cmd, problem, stderr
        tail = stderr.strip().splitlines()[-5:]
        detail = ("\n  " + "\n  ".join(tail)) if tail else ""
        super().__init__(f"{cmd[0]} {problem}: {' '.join(cmd)}{detail}")


class MediaError(MailroomError):
    """A media file is corrupt or cannot be converted."""


class ArchiveError(MailroomError):
    """An archive file (zip, 7z, rar) cannot be opened safely."""


class MailboxError(MailroomError):
    """The mailbox server refused us or could not be reached."""


class StorageError(MailroomError):
    """The archive or index could not be written."""


class IndexUnavailable(StorageError):
    """The index database cannot be reached, opened or written just now (down, locked, full)."""

    transient = True


class ArchiveUnavailable(StorageError):
    """The archive's disk cannot take writes just now (full, read-only, no permission, I/O)."""

    transient = True


# What a disk says when it cannot take a write now (or cannot read back what it holds).
_MACHINE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM}
)
_NO_SPACE = "No space left on device"


def is_transient(exc: BaseException) -> bool:
    """Returns True when a failure is the machine's, not the input's, anywhere in its chain.

    A transient MailroomError, an OSError of a full, read-only or failing disk, or an
    external program that says the disk is full (ffmpeg reports ENOSPC on stderr
    and exits 1, which alone looks like a bad file). Such a failure is tried again
    later and never becomes a message's or a file's permanent state.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MailroomError) and current.transient:
            return True
        if isinstance(current, OSError) and current.errno in _MACHINE_ERRNOS:
            return True
        if isinstance(current, ExternalProgramError) and _NO_SPACE in current.stderr:
            return True
        current = current.__cause__ or current.__context__
    return False


class LimitExceeded(MailroomError):
    """Work was stopped or refused because it reached one of the [limits] budgets.

    `limit` is the config key (`message_seconds`, `image_max_pixels` ...: English, for
    logs and exports); `staff` is the Chinese sentence staff read in the UI and the
    daily report. The message is the administrator's English line.
    """

    def __init__(self, limit: str, detail: str, staff: str):
        self.limit, self.detail, self.staff = limit, detail, staff
        super().__init__(f"{detail} (limits.{limit})")
