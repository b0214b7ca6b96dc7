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


def configure_logging(level=logging.WARNING) -> None:
    """The kit's processes log `LEVEL name: message` to stderr, each message on one line, escaped."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, EscapeControls) for f in handler.filters):
            handler.addFilter(EscapeControls())
