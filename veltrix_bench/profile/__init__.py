"""Profiles of the engine under load: memray allocations and py-spy CPU samples, by layer.

The orchestrator drives a `ProfileSession` around the engine (see session.py);
`vbench profile RUN_DIR` calls `render_profiles` on the saved captures.
"""

from veltrix_bench.profile.errors import CaptureError, ProfilerUnavailable
from veltrix_bench.profile.render import ProfileReport, render_profiles
from veltrix_bench.profile.session import PROFILE_KINDS, ProfileSession

__all__ = [
    "PROFILE_KINDS",
    "CaptureError",
    "ProfileReport",
    "ProfileSession",
    "ProfilerUnavailable",
    "render_profiles",
]
