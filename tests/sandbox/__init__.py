"""Tests of the user-code sandbox."""
