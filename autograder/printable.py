"""Text a student wrote, made safe for a terminal or a log: control characters (ANSI and OSC escapes that clear
the screen or set a title, carriage returns and newlines that would forge a line, bidirectional overrides) are shown
as escapes; everything else stays as written, accents and all."""
import logging
import re

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """str(text) on one line, its control characters written as \\n, \\x1b, \\u202e..."""
    return CONTROL.sub(lambda m: repr(m.group())[1:-1] if m.group() in "\n\r\t" else f"\\x{ord(m.group()):02x}"
                       if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}", str(text))


class EscapeControls(logging.Filter):
    """On a handler: every record's message with its control characters escaped (a traceback stays as Python
    formats it)."""

    def filter(self, record):
        record.msg, record.args = printable(record.getMessage()), None
        return True


class WithoutTraceback(logging.Filter):
    """On asyncio's logger: its "Task exception was never retrieved" comes from a task's finalizer, which the
    garbage collector may run in the middle of an ast.parse (pytest importing the checks); formatting the traceback
    parses source again (3.11's carets), and CPython 3.11.2 then fails the outer parse with "SystemError: AST
    constructor recursion depth mismatch" (gh-106905). A kernel whose garbled output broke nbclient's reader did
    that to the checks of the submission after it. The message, with the exception's repr, stays; not the trace."""

    def filter(self, record):
        record.exc_info, record.exc_text = None, None
        return True


def configure_logging(level=logging.WARNING) -> None:
    """The kit's processes log `LEVEL name: message` to stderr, each message on one line, escaped."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, EscapeControls) for f in handler.filters):
            handler.addFilter(EscapeControls())
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, WithoutTraceback) for f in asyncio_log.filters):
        asyncio_log.addFilter(WithoutTraceback())
