"""The one exception hierarchy of mailroom.

Every error that reaches a person derives from MailroomError; its message
says what failed and what to do next. Third-party errors are translated
where they enter our code.
"""


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
