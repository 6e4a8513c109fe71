"""An app whose import asks for its own stack dump (SIGUSR1, as Go does
for an import past its StartTimeout) and then hangs (TestImportDumpEnd)."""

import os
import signal
import time


def graft_import_dumped_here():
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(3600)


graft_import_dumped_here()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"never"]
