"""Rongtong (融通): an event-sourced integration bus for legacy department systems."""

__version__ = "0.1.0"
