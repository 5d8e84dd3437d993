"""Test support: private servers and helpers shared by the suite."""
