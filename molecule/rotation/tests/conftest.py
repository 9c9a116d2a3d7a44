"""Puts molecule/_shared/tests, the helpers every scenario's tests share, on sys.path."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "_shared" / "tests"))
