"""Tests for the Go text/template + Sprig engine (goTemplate mode)."""
