"""Makes this interpreter claim to be Python 3.8.10, for the test of the
worker's Python version check (put this directory on PYTHONPATH)."""

import collections
import sys

_VersionInfo = collections.namedtuple("version_info", "major minor micro releaselevel serial")
sys.version_info = _VersionInfo(3, 8, 10, "final", 0)
