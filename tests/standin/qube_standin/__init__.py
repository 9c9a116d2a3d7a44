"""qube_standin: a small STAND-IN for PipelineFX Qube! used as test equipment.

This is NOT Qube!. It imitates the documented behaviour of the Qube! 8.0 supervisor,
worker and command-line tools closely enough for the renderfarm.qube collection to be
tested against it. See tests/standin/README.md for what it models and where it deviates.
"""

BANNER = "Qube! STAND-IN (qube-standin test equipment, not PipelineFX Qube!)"
VERSION = "8.0.0~standin1"
