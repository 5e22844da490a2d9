"""Helpers shared by the test suites (waiting, publishing); one copy each."""
