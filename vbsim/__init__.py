"""vbsim: Monte Carlo simulation and contract negotiation for value-based health care.

Simulate member-level costs once, settle every contract on the same paths, and report the
distribution of what each contract pays, with Monte Carlo error bars.
"""

from __future__ import annotations

__version__ = "0.1.0"
