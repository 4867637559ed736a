"""Runs one cell of Python read from stdin and prints what it printed."""

import contextlib
import io
import sys

source = sys.stdin.read()
out = io.StringIO()
with contextlib.redirect_stdout(out):
    exec(compile(source, "<cell>", "exec"), {"__name__": "__cell__"})
sys.stdout.write(out.getvalue())
