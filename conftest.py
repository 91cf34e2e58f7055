"""Shared pytest fixtures. Domain-specific factories live in each app's tests."""
