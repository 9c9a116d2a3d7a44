"""Test helpers for the Qube! STAND-IN (runs without the lab)."""

import os
import sys

STANDIN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, STANDIN)
LAUNCHER = os.path.join(STANDIN, "qube-standin")
