"""Seeing the wire: transcripts, faults and provider profiles, shared by every service."""
